"""MCP: external MCP servers bridged in as tools (client side), and the Gateway's own MCP server.

Imports of the official SDK stay absolute (`import mcp`), so this package never shadows it."""
