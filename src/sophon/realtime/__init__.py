"""Real-time hubs: the ASP.NET Core SignalR protocol (JSON hub protocol over WebSockets,
Server-Sent Events and Long Polling), so the official SignalR clients connect unchanged."""
