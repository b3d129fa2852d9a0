"""Hub fan-out: 1,000 WebSocket connections on `/hubs/chat` across 100 session groups, a real
chat turn per session per round; publish-to-delivery latency of every event each connection
receives and the Gateway's event-loop lag, next to a bare Starlette WebSocket broadcaster that
sends the same number of messages per group in the same run."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import Benchmark, Row, RunContext, Target, percentile
from bench.processes import (
    ServerProcess,
    clean_env,
    first_admin_token,
    free_port,
    python_module_argv,
)

CONNECTIONS = 1000
SESSIONS = 100
OPEN_BATCH = 50
RS = "\x1e"
HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + RS
DELIVERY_TARGET = Target("max_value", 100)
LAG_TARGET = Target("max_value", 50)
ROUND_TIMEOUT = 120.0
KEEPALIVE = 10.0
WORKERS = 16  # turns the Gateway runs at once; the baseline sends as many groups at once


@dataclass
class Listener:
    """One client connection: records the latency of every stamped message it receives."""

    socket: ClientConnection
    group: int
    latencies: list[float]
    done_marker: str
    rounds_done: int = 0
    seen: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    async def read(self) -> None:
        async for data in self.socket:
            now = time.time()
            text = data if isinstance(data, str) else data.decode()
            for part in text.split(RS)[:-1]:
                message = json.loads(part)
                kind = message.get("type")
                if kind == 3 and message.get("invocationId") in self.pending:
                    self.pending.pop(message["invocationId"]).set_result(message)
                elif kind == 1:
                    payload = message["arguments"][0]
                    sent = payload.get("benchSentAt") if isinstance(payload, dict) else None
                    if sent is not None:
                        self.latencies.append((now - sent) * 1000)
                        self.seen += 1
                        self.changed.set()
                    if message.get("target") == self.done_marker:
                        self.rounds_done += 1
                        self.changed.set()

    async def invoke(self, target: str, *arguments: Any) -> dict[str, Any]:
        invocation_id = str(len(self.pending) + 1) + target
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[invocation_id] = future
        body = {"type": 1, "invocationId": invocation_id, "target": target, "arguments": arguments}
        await self.socket.send(json.dumps(body) + RS)
        return await asyncio.wait_for(future, 30)


async def _open_all(
    opener: Callable[[int], Awaitable[Listener]], say: Callable[[str], None]
) -> tuple[list[Listener], list[asyncio.Task[None]]]:
    """Opens the connections in batches, pinging the open ones meanwhile."""
    listeners: list[Listener] = []
    tasks = [asyncio.create_task(_keep_alive(listeners))]
    started = time.perf_counter()
    for start in range(0, CONNECTIONS, OPEN_BATCH):
        batch = range(start, min(start + OPEN_BATCH, CONNECTIONS))
        listeners.extend(await asyncio.gather(*(opener(i) for i in batch)))
    say(f"{len(listeners)} connections open in {time.perf_counter() - started:.1f} s")
    tasks.extend(asyncio.create_task(lst.read()) for lst in listeners)
    return listeners, tasks


async def _keep_alive(listeners: list[Listener]) -> None:
    """Pings every connection as SignalR clients do, or the server's client timeout ends it."""
    ping = json.dumps({"type": 6}) + RS
    while True:
        open_now = tuple(listeners)
        await asyncio.gather(*(lst.socket.send(ping) for lst in open_now), return_exceptions=True)
        await asyncio.sleep(KEEPALIVE)


@contextmanager
def _quiet_collector() -> Iterator[None]:
    """The client's own garbage-collector pauses would show up as delivery latency: the heap
    is frozen and collection is off while a measurement runs."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def _until_round(listeners: list[Listener], round_no: int) -> None:
    async with asyncio.timeout(ROUND_TIMEOUT):
        for listener in listeners:
            while listener.rounds_done < round_no:
                listener.changed.clear()
                await listener.changed.wait()


# --- the Gateway ---------------------------------------------------------------------------


async def _gateway_run(
    server: ServerProcess, ctx: RunContext
) -> tuple[list[float], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as api:
        token = await asyncio.to_thread(first_admin_token, server)
        headers = {"Authorization": f"Bearer {token}"}

        async def chat(session_id: str | None) -> dict[str, Any]:
            body: dict[str, Any] = {"content": "fan-out"}
            if session_id:
                body["sessionId"] = session_id
            accepted = await api.post("/api/chat", headers=headers, json=body)
            accepted.raise_for_status()
            result: dict[str, Any] = accepted.json()
            return result

        async def finished(task_id: str) -> None:
            got = await api.get(f"/api/tasks/{task_id}", headers=headers, params={"wait": 60})
            got.raise_for_status()

        firsts = await asyncio.gather(*(chat(None) for _ in range(SESSIONS)))
        await asyncio.gather(*(finished(a["taskId"]) for a in firsts))
        sessions = [a["sessionId"] for a in firsts]
        ctx.say(f"{len(sessions)} sessions ready")
        latencies: list[float] = []
        ws_url = server.url.replace("http://", "ws://")

        async def opener(i: int) -> Listener:
            socket = await connect(f"{ws_url}/hubs/chat?access_token={token}", max_queue=None)
            await socket.send(HANDSHAKE)
            await socket.recv()
            listener = Listener(socket, i % SESSIONS, latencies, "TaskCompleted")
            reader = asyncio.create_task(listener.read())
            joined = await listener.invoke("JoinSession", sessions[listener.group])
            reader.cancel()
            assert "error" not in joined, joined
            return listener

        listeners, readers = await _open_all(opener, ctx.say)
        await asyncio.gather(*(chat(s) for s in sessions))  # warm-up turn, not measured
        await _until_round(listeners, 1)
        latencies.clear()
        for listener in listeners:
            listener.seen = 0
        await api.get("/__bench/lag")  # reset
        with _quiet_collector():
            for round_no in range(1, ctx.rounds + 1):
                await asyncio.gather(*(chat(s) for s in sessions))
                await _until_round(listeners, round_no + 1)
                ctx.say(f"gateway round {round_no}/{ctx.rounds}: {len(latencies)} deliveries")
        lag = (await api.get("/__bench/lag")).json()
        per_turn = sum(lst.seen for lst in listeners) / (CONNECTIONS * ctx.rounds)
        await _close(listeners, readers)
        return latencies, {**lag, "perTurn": per_turn}


# --- the baseline --------------------------------------------------------------------------


async def _baseline_run(
    server: ServerProcess, ctx: RunContext, per_turn: int
) -> tuple[list[float], dict[str, Any]]:
    latencies: list[float] = []
    ws_url = server.url.replace("http://", "ws://")

    async def opener(i: int) -> Listener:
        socket = await connect(f"{ws_url}/ws?group={i % SESSIONS}", max_queue=None)
        return Listener(socket, i % SESSIONS, latencies, "__never__")

    listeners, readers = await _open_all(opener, ctx.say)
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as api:
        await api.get("/__bench/lag")
        with _quiet_collector():
            for round_no in range(1, ctx.rounds + 1):
                await api.post("/broadcast", params={"events": per_turn})
                async with asyncio.timeout(ROUND_TIMEOUT):
                    for listener in listeners:
                        while listener.seen < per_turn * round_no:
                            listener.changed.clear()
                            await listener.changed.wait()
                ctx.say(f"baseline round {round_no}/{ctx.rounds}: {len(latencies)} deliveries")
        lag = (await api.get("/__bench/lag")).json()
    await _close(listeners, readers)
    return latencies, lag


async def _close(listeners: list[Listener], readers: list[asyncio.Task[None]]) -> None:
    await asyncio.gather(*(lst.socket.close() for lst in listeners), return_exceptions=True)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


# --- the benchmark -------------------------------------------------------------------------


def _server(ctx: RunContext, mode: str, **env: str) -> ServerProcess:
    root = ctx.temp_dir()
    port = free_port()
    argv = python_module_argv("bench.hubs_server", mode, "--port", str(port))
    settings = {"SOPHON_DATA": str(root / "data"), **env, **ctx.gateway_env}
    return ctx.server(f"hubs-{mode}", argv, clean_env(**settings), root, port)


def run(ctx: RunContext) -> list[Row]:
    gateway = _server(
        ctx, "gateway", SOPHON_RATE_LIMITS_ENABLED="false", SOPHON_LOG_LEVEL="WARNING",
        SOPHON_WORKER_CONCURRENCY=str(WORKERS),
    )  # fmt: skip
    gateway.start()
    try:
        project, project_lag = asyncio.run(_gateway_run(gateway, ctx))
    finally:
        gateway.stop()
    per_turn = max(1, round(project_lag["perTurn"]))
    baseline = _server(ctx, "baseline", BENCH_WORKERS=str(WORKERS))
    baseline.start()
    try:
        base, base_lag = asyncio.run(_baseline_run(baseline, ctx, per_turn))
    finally:
        baseline.stop()
    details = (
        f"{CONNECTIONS} connections, {SESSIONS} sessions, {ctx.rounds} turn(s) per session; "
        f"{per_turn} events per turn; deliveries: project {len(project)}, baseline {len(base)}",
        f"delivery max ms: project {max(project):.1f}, baseline {max(base):.1f}; loop lag max "
        f"ms: project {project_lag['max']:.1f}, baseline {base_lag['max']:.1f}; longest GC "
        f"pause ms: project {project_lag['gcMax']:.1f}, baseline {base_lag['gcMax']:.1f}",
    )
    rows = []
    for metric, share in (("p50", 0.5), ("p99", 0.99)):
        rows.append(
            Row(
                benchmark="hubs",
                metric=f"event delivery {metric} (publish to client)",
                unit="ms",
                project=percentile(project, share),
                baseline=percentile(base, share),
                target=DELIVERY_TARGET,
                details=details if metric == "p99" else (),
            )
        )
    rows.append(
        Row(
            benchmark="hubs",
            metric="event-loop lag p99 during fan-out",
            unit="ms",
            project=float(project_lag["p99"]),
            baseline=float(base_lag["p99"]),
            target=LAG_TARGET,
        )
    )
    return rows


BENCHMARK = Benchmark(
    name="hubs",
    summary="SignalR hub fan-out: 1,000 WebSocket connections, 100 sessions, chat turns",
    run=run,
)
