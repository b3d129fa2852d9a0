"""A Gateway served by uvicorn on a loopback port inside the test's event loop, so tests reach
it over real sockets (WebSockets, SSE, Long Polling) and still publish on its bus directly."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from sophon.gateway import Gateway
from sophon.realtime.router import hub_server
from sophon.realtime.server import HubServer


@dataclass
class Live:
    url: str
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    @property
    def hubs(self) -> HubServer:
        return hub_server(self.app)


@asynccontextmanager
async def serve_live(app: FastAPI, port: int = 0) -> AsyncIterator[Live]:
    """Serves `app` on `port` (0: any free one; a given port can be reused after a stop)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield Live(url, app, http)
    finally:
        server.should_exit = True
        await task
        sock.close()


async def tenant_id_of(live: Live, caller: object) -> str:
    """The tenant the caller's credential is in (from `GET /api/auth/me`)."""
    token = caller.token  # type: ignore[attr-defined]
    me = (await live.http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).json()
    return str(me["tenant"]["id"])


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Waits for server-side state that has no event of its own (registry indexes, bus
    subscriptions), checking it between loop turns, within a timeout."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
