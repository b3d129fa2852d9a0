"""The three SignalR transports over one connection object: WebSockets (both directions on one
socket), Server-Sent Events (server to client; the client POSTs) and Long Polling (GET waits for
messages; the client POSTs; DELETE ends it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from sophon.platform.errors import Conflict
from sophon.realtime.connection import Connection, Transport

SOCKET_ERRORS = (WebSocketDisconnect, RuntimeError, OSError)


def attach(conn: Connection, transport: Transport) -> None:
    if conn.transport is None:
        conn.transport = transport
    elif conn.transport is not transport:
        raise Conflict("Cannot change transports mid-connection.", {"transport": conn.transport})


async def run_websocket(ws: WebSocket, conn: Connection) -> None:
    """Reads frames until the client goes; a writer task drains the outbox meanwhile."""
    writer = asyncio.create_task(_write_websocket(ws, conn))
    try:
        while not conn.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text")
            if data is None:
                data = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            conn.feed(data)
    except SOCKET_ERRORS:
        pass
    finally:
        conn.close(send_close=False)  # no-op when the connection closed itself
        await writer


async def _write_websocket(ws: WebSocket, conn: Connection) -> None:
    try:
        while True:
            await conn.wait_outgoing()
            frames = conn.take()
            if frames:
                await ws.send_text("".join(frames))
            if conn.closed:
                break
        if ws.application_state is WebSocketState.CONNECTED:
            await ws.close(1000)
    except SOCKET_ERRORS:
        conn.close(send_close=False)


def server_sent_events(conn: Connection) -> StreamingResponse:
    attach(conn, Transport.SSE)
    if conn.polled:
        raise Conflict("This connection already has an event stream.")
    conn.polled = True
    return StreamingResponse(
        _events(conn),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(conn: Connection) -> AsyncIterator[str]:
    try:
        yield ":\r\n"  # flushes the headers; EventSource ignores comments
        while True:
            await conn.wait_outgoing()
            frames = conn.take()
            if frames:
                yield f"data: {''.join(frames)}\r\n\r\n"
            if conn.closed:
                return
    finally:
        conn.close(send_close=False)


async def long_poll(conn: Connection, wait_seconds: float) -> Response:
    attach(conn, Transport.LONG_POLLING)
    conn.touch()
    if not conn.polled:  # the first poll only completes the connection's set-up
        conn.polled = True
        return Response(status_code=200, media_type="text/plain")
    if conn.closed and conn.drained:
        return Response(status_code=204)
    await conn.wait_outgoing(wait_seconds)
    conn.touch()
    frames = conn.take()
    if not frames and conn.closed:
        return Response(status_code=204)
    return Response("".join(frames), status_code=200, media_type="text/plain")
