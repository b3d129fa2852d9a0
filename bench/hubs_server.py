"""Servers for the hub fan-out benchmark, each with an event-loop lag probe at `/__bench/lag`.

`python -m bench.hubs_server gateway --port P`: the Gateway (settings from `SOPHON_*`, as
`sophon serve`), whose bus stamps every published event's payload with `benchSentAt` (wall
clock, seconds) so clients can measure publish-to-delivery latency of real chat turns.

`python -m bench.hubs_server baseline --port P`: a bare Starlette WebSocket broadcaster. Clients
connect to `/ws?group=N`; `POST /broadcast?events=K` sends every group K timestamped messages, as
a chat turn per group would, as many groups at once as the Gateway has workers
(`BENCH_WORKERS`)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from fastapi import FastAPI

LAG_TICK = 0.01
RS = "\x1e"


class LagProbe:
    """Sleeps LAG_TICK again and again; how late each wake-up is = how long the loop was busy.
    Garbage-collector pauses are timed too, to tell them apart from slow callbacks."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.gc_pauses: list[float] = []
        self.claims = 0  # the job queue's claims (`UPDATE jobs` to Running), found work or not
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((time.perf_counter() - self._gc_started) * 1000)

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_TICK)
            self.samples.append(max(0.0, time.perf_counter() - before - LAG_TICK) * 1000)

    def take(self) -> dict[str, float]:
        samples, self.samples = self.samples, []
        pauses, self.gc_pauses = self.gc_pauses, []
        claims, self.claims = self.claims, 0
        gc_max = max(pauses, default=0.0)
        if not samples:
            return {
                "p50": 0.0,
                "p99": 0.0,
                "max": 0.0,
                "count": 0,
                "gcMax": gc_max,
                "claims": claims,
            }
        ordered = sorted(samples)
        return {
            "p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max": ordered[-1],
            "count": len(ordered),
            "gcMax": gc_max,
            "gcTotal": sum(pauses),
            "objects": len(gc.get_objects()),
            "claims": claims,
        }

    def count_claims(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """An engine's `after_cursor_execute` listener."""
        if statement.startswith("WITH due AS"):
            self.claims += 1


PROBE = LagProbe()


def with_lag_route(app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/__bench/lag":
            await JSONResponse(PROBE.take())(scope, receive, send)
            return
        await app(scope, receive, send)

    return wrapped


# --- the Gateway --------------------------------------------------------------------------


def gateway_app() -> tuple[ASGIApp, FastAPI]:
    from sqlalchemy import event as sa_event

    from sophon.app import create_app
    from sophon.platform.events import Event
    from sophon.platform.logs import configure_logging
    from sophon.settings import load_settings

    settings = load_settings()
    configure_logging(settings.data, "WARNING", settings.log_json)
    app = create_app(settings)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            bus = application.state.gateway.bus
            publish: Callable[[Event], Awaitable[None]] = bus.publish

            async def stamped(event: Event) -> None:
                if isinstance(event.payload, dict):
                    event.payload["benchSentAt"] = time.time()
                await publish(event)

            bus.publish = stamped
            engine = application.state.gateway.db.engine.sync_engine
            sa_event.listen(engine, "after_cursor_execute", PROBE.count_claims)
            PROBE.start()
            yield state

    app.router.lifespan_context = lifespan
    return with_lag_route(app), app


# --- the baseline -------------------------------------------------------------------------


def baseline_app() -> ASGIApp:
    groups: dict[str, set[WebSocket]] = {}

    async def socket(ws: WebSocket) -> None:
        group = ws.query_params.get("group", "0")
        await ws.accept()
        groups.setdefault(group, set()).add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            groups[group].discard(ws)

    async def broadcast(request: Request) -> JSONResponse:
        events = int(request.query_params.get("events", "8"))

        async def one_group(name: str, members: set[WebSocket]) -> None:
            for seq in range(events):
                frame = json.dumps(
                    {
                        "type": 1,
                        "target": "StreamChunk",
                        "arguments": [{"group": name, "seq": seq, "benchSentAt": time.time()}],
                    }
                )
                for ws in tuple(members):
                    await ws.send_text(frame + RS)
                await asyncio.sleep(0)

        at_once = asyncio.Semaphore(int(os.environ.get("BENCH_WORKERS", "16")))

        async def paced(name: str, members: set[WebSocket]) -> None:
            async with at_once:  # as the Gateway's workers run that many turns at once
                await one_group(name, members)

        await asyncio.gather(*(paced(n, m) for n, m in groups.items()))
        return JSONResponse({"groups": len(groups)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        PROBE.start()
        yield

    app = Starlette(
        routes=[
            Route("/api/health", health),
            Route("/broadcast", broadcast, methods=["POST"]),
            WebSocketRoute("/ws", socket),
        ],
        lifespan=lifespan,
    )
    return with_lag_route(app)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hubs_server")
    parser.add_argument("mode", choices=["gateway", "baseline"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # no forwarded headers believed, as `sophon serve` runs without trusted proxies
    options: dict[str, Any] = {"host": "127.0.0.1", "port": args.port, "log_config": None,
                               "log_level": "warning", "access_log": False, "lifespan": "on",
                               "server_header": False, "timeout_graceful_shutdown": 5,
                               "proxy_headers": False}  # fmt: skip
    if args.mode == "baseline":
        uvicorn.run(baseline_app(), **options)
        return
    # the Gateway's own server class, as `sophon serve` runs it (it freezes the start-up heap
    # out of the garbage collector's reach, among other things)
    from sophon.platform.server import GracefulServer

    wrapped, app = gateway_app()
    from sophon.settings import load_settings

    options["timeout_keep_alive"] = load_settings().keep_alive_seconds  # as `serve`
    GracefulServer(uvicorn.Config(wrapped, **options), app).run()


if __name__ == "__main__":
    main()
