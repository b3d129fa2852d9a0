"""Runs the Gateway under uvicorn with a graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

YOUNG_COLLECTION_THRESHOLD = 50_000  # allocations between young collections (CPython: 700)
BEFORE_SHUTDOWN = "before_server_shutdown"
"""`app.state` list of async callables run before uvicorn closes connections (hubs use it to tell
clients to reconnect)."""


class GracefulServer(uvicorn.Server):
    """Uvicorn re-raises the stop signal after shutting down, so the process would die by it and
    lose the log lines still queued; a completed graceful stop exits 0 instead. Hub clients are
    told to reconnect before uvicorn drops their connections."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets and self.started:  # uvicorn names the address only for sockets it bound
            self._log_started_message(sockets)
        # what start-up allocated lives as long as the process: keep the collector off it, so
        # full collections (event-loop pauses) stay short. No collection first: one over the
        # ~200k start-up objects took 0.16 s of the cold start (the first requests waited on
        # it) to free some 4k objects, which now stay frozen
        gc.freeze()
        # and collect young objects far less often: a request's or a turn's garbage is mostly
        # freed by reference counting, and each young collection promotes survivors towards the
        # full collections that pause the loop (hub fan-out lag p99 153 → 45 ms, bench/README)
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        gc.enable()  # `sophon serve` turns it off while it starts

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for prepare in getattr(self.app.state, BEFORE_SHUTDOWN, ()):
            await prepare()
        await super().shutdown(sockets)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the app starts (as uvicorn would bind it), so a port
    in use fails fast with the OSError instead of after start-up."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run(
    app: FastAPI,
    host: str,
    port: int,
    sock: socket.socket | None = None,
    trusted_proxies: str | None = None,
    keep_alive_seconds: int = 75,
) -> None:
    """Blocks until stopped: stops accepting, lets in-flight requests finish (30 s at most), then
    runs the app's shutdown, which closes the database. `sock`: from `listen(host, port)`.
    Forwarded headers are believed only from `trusted_proxies` (uvicorn's default trusts
    loopback, letting any local process choose the address per-IP limits count). Idle keep-alive
    connections are closed after `keep_alive_seconds` (`Settings.keep_alive_seconds`)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=trusted_proxies is not None,
        forwarded_allow_ips=trusted_proxies or "",
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        timeout_keep_alive=keep_alive_seconds,
        server_header=False,
    )
    GracefulServer(config, app).run(sockets=[sock] if sock is not None else None)
