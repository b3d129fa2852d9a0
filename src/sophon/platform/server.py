"""Runs the Gateway under uvicorn with a graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


class GracefulServer(uvicorn.Server):
    """Uvicorn re-raises the stop signal after shutting down, so the process would die by it and
    lose the log lines still queued; a completed graceful stop exits 0 instead."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def run(app: FastAPI, host: str, port: int) -> None:
    """Blocks until stopped: stops accepting, lets in-flight requests finish (30 s at most), then
    runs the app's shutdown, which closes the database."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    GracefulServer(config).run()
