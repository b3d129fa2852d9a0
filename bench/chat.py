"""Chat overhead: `POST /api/chat` to the task's `TaskCompleted` hub event, with a model that
answers at once, at 1 and at 200 concurrent sessions; p50/p99 per turn and the Gateway's
event-loop lag meanwhile. The baseline is the same model server called directly by the same
client, at the same concurrency, in the same run: what a turn costs without the Gateway.

The model is `bench/fake_llm.py`, an OpenAI-compatible server on loopback registered as the
tenant's `openai` provider, so a turn goes through the real adapter, SSE parsing included (the
chat runtime streams by default). Each session is a closed loop: one WebSocket on `/hubs/chat`
joined to the session (SignalR JSON protocol), then post a turn, wait for its completion event,
post the next, for `--duration` seconds.

Every turn also queues background work of its own (memory extraction, which calls the model
again): it runs during the measurement as it would in production, but what earlier phases
(session set-up, warm-up) left queued is let finish first: a phase starts once the Gateway's
CPU has been idle for half a second."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.harness import (
    PG_DSN,
    Benchmark,
    Row,
    RunContext,
    Target,
    create_pg_database,
    drop_pg_database,
    percentile,
    pg_reachable,
)
from bench.hubs import HANDSHAKE, RS, _quiet_collector
from bench.processes import (
    ServerProcess,
    clean_env,
    cpu_seconds,
    first_admin_token,
    free_port,
    python_module_argv,
)

TURN_TARGET = Target("max_value", 20)  # p99 ms at 200 sessions
OVER_DIRECT = {"p50": Target("max_value", 10), "p99": Target("max_value", 25)}  # at 1 session
CPU_TARGET = Target("max_value", 10)  # ms of Gateway CPU per turn
THROUGHPUT_TARGET = Target("min_value", 100)  # turns/s at 16 sessions
REPORTED = Target("report", 0)
LAG_TARGET = Target("max_value", 50)
RETRIES = 3  # a request on a connection the server dropped is sent again, as clients do
TURN_TIMEOUT = 60.0
ENDED = {"TaskCompleted", "TaskFailed", "TaskCancelled"}
SETTLE_TIMEOUT = 300.0


@dataclass
class SessionClient:
    """One session's hub connection: resolves each task's future on its end event."""

    socket: ClientConnection
    ended: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    calls: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    async def read(self) -> None:
        async for data in self.socket:
            text = data if isinstance(data, str) else data.decode()
            for part in text.split(RS)[:-1]:
                message = json.loads(part)
                if message.get("type") == 3 and message.get("invocationId") in self.calls:
                    self.calls.pop(message["invocationId"]).set_result(message)
                elif message.get("type") == 1 and message.get("target") in ENDED:
                    payload = message["arguments"][0]
                    task_id = str(payload.get("taskId"))
                    future = self.waiting.pop(task_id, None)
                    if future is None:
                        self.ended[task_id] = message["target"]  # before POST answered
                    else:
                        future.set_result(message["target"])

    async def join(self, session_id: str) -> None:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.calls["join"] = future
        body = {"type": 1, "invocationId": "join", "target": "JoinSession",
                "arguments": [session_id]}  # fmt: skip
        await self.socket.send(json.dumps(body) + RS)
        joined = await asyncio.wait_for(future, 30)
        if "error" in joined:
            raise RuntimeError(f"JoinSession failed: {joined}")

    async def until_ended(self, task_id: str) -> str:
        if task_id in self.ended:
            return self.ended.pop(task_id)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[task_id] = future
        return await asyncio.wait_for(future, TURN_TIMEOUT)


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # the Gateway's CPU seconds over the phase and the work it left queued
    errors: list[str] = field(default_factory=list)  # the first few failures, for the report

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def _closed_loops(sessions: int, duration: float, turn: Any) -> Phase:
    """`sessions` loops, each running `turn(i)` back to back until the deadline."""
    phase = Phase()
    deadline = time.perf_counter() + duration

    async def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                ok = await turn(i)
            except Exception as exc:  # noqa: BLE001 - a failed turn is counted; the run goes on
                ok = False
                if len(phase.errors) < 3:
                    phase.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            if ok:
                phase.latencies.append((time.perf_counter() - started) * 1000)
            else:
                phase.failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(sessions)))
    phase.seconds = time.perf_counter() - started
    return phase


# --- the Gateway ---------------------------------------------------------------------------


async def _gateway(
    server: ServerProcess, model_url: str, ctx: RunContext, failed: dict[int, str]
) -> dict[int, tuple[Phase, dict[str, Any]]]:
    limits = httpx.Limits(max_connections=max(ctx.sessions) + 10)
    results: dict[int, tuple[Phase, dict[str, Any]]] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as api:
        token = await asyncio.to_thread(first_admin_token, server)
        headers = {"Authorization": f"Bearer {token}"}
        provider = await api.post(
            "/api/models/providers",
            headers=headers,
            json={"name": "bench", "type": "openai", "baseUrl": f"{model_url}/v1",
                  "defaultModel": "bench-zero", "models": [{"id": "bench-zero"}]},
        )  # fmt: skip
        provider.raise_for_status()

        async def first_turn() -> str:
            accepted = await api.post("/api/chat", headers=headers, json={"content": "hello"})
            accepted.raise_for_status()
            deadline = time.perf_counter() + SETTLE_TIMEOUT  # set-up waits as long as it takes
            while True:  # one wait is at most 60 s; 200 new sessions on a slow machine take more
                task = await api.get(
                    f"/api/tasks/{accepted.json()['taskId']}", headers=headers, params={"wait": 30}
                )
                task.raise_for_status()
                status = task.json().get("status")
                if status == "Completed":
                    return str(accepted.json()["sessionId"])
                if status in ("Failed", "Cancelled") or time.perf_counter() > deadline:
                    raise RuntimeError(f"first turn did not complete: {task.text[:500]}")

        ws_url = server.url.replace("http://", "ws://")
        session_ids: list[str] = []
        clients: list[SessionClient] = []
        readers: list[asyncio.Task[None]] = []

        async def grow(sessions: int) -> None:
            more = sessions - len(session_ids)
            session_ids.extend(await asyncio.gather(*(first_turn() for _ in range(more))))
            for session_id in session_ids[len(clients) :]:
                socket = await connect(f"{ws_url}/hubs/chat?access_token={token}", max_queue=None)
                await socket.send(HANDSHAKE)
                await socket.recv()
                client = SessionClient(socket)
                readers.append(asyncio.create_task(client.read()))
                await client.join(session_id)
                clients.append(client)
            ctx.say(f"{len(clients)} session(s) joined")

        pinger = asyncio.create_task(_keep_alive(clients))

        async def turn(i: int) -> bool:
            body = {"content": "benchmark turn", "sessionId": session_ids[i]}
            # an idempotency key makes the POST safe to send again when the connection it went
            # out on turns out to be closed (what a careful client does)
            keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
            for attempt in range(RETRIES):
                try:
                    accepted = await api.post("/api/chat", headers=keyed, json=body)
                    break
                except httpx.TransportError:
                    if attempt == RETRIES - 1:
                        raise
            if accepted.status_code != 202 and accepted.status_code != 200:
                return False
            return await clients[i].until_ended(accepted.json()["taskId"]) == "TaskCompleted"

        try:
            for sessions in ctx.sessions:
                try:
                    await grow(sessions)
                except (httpx.HTTPError, OSError, RuntimeError, TimeoutError) as exc:
                    failed[sessions] = f"{type(exc).__name__}: {exc}"[:300]
                    break  # the phases measured so far are kept
                await _closed_loops(sessions, min(1.0, ctx.duration), turn)  # warm-up
                waited = await asyncio.to_thread(_settle, server.pid)
                ctx.say(f"gateway idle after {waited:.1f} s")
                await api.get("/__bench/lag")  # reset
                cpu_before = cpu_seconds(server.pid)
                with _quiet_collector():
                    phase = await _closed_loops(sessions, ctx.duration, turn)
                lag = (await api.get("/__bench/lag")).json()
                await asyncio.to_thread(_settle, server.pid)  # what the turns left queued
                phase.cpu = cpu_seconds(server.pid) - cpu_before
                lag["claims"] += (await api.get("/__bench/lag")).json()["claims"]  # settling's
                ctx.say(
                    f"gateway, {sessions} session(s): {len(phase.latencies)} turns, "
                    f"p99 {percentile(phase.latencies, 0.99):.1f} ms, lag p99 {lag['p99']:.1f} ms"
                )
                results[sessions] = (phase, lag)
        finally:
            pinger.cancel()
            await asyncio.gather(*(c.socket.close() for c in clients), return_exceptions=True)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, pinger, return_exceptions=True)
    return results


def _settle(pid: int) -> float:
    """Waits until the process used under 5 % of a CPU over half a second; returns seconds."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_TIMEOUT:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return time.perf_counter() - started
    raise TimeoutError(f"the Gateway stayed busy for {SETTLE_TIMEOUT:g} s")


async def _keep_alive(clients: list[SessionClient]) -> None:
    ping = json.dumps({"type": 6}) + RS
    while True:
        await asyncio.sleep(10)
        await asyncio.gather(*(c.socket.send(ping) for c in clients), return_exceptions=True)


# --- the baseline: the model server called directly ----------------------------------------


async def _direct(model_url: str, ctx: RunContext) -> dict[int, Phase]:
    limits = httpx.Limits(max_connections=max(ctx.sessions) + 10)
    body = {"model": "bench-zero", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "benchmark turn"}]}  # fmt: skip
    results: dict[int, Phase] = {}
    async with httpx.AsyncClient(base_url=model_url, timeout=60, limits=limits) as api:

        async def turn(i: int) -> bool:
            async with api.stream("POST", "/v1/chat/completions", json=body) as response:
                done = False
                async for line in response.aiter_lines():
                    done = done or line == "data: [DONE]"
                return response.status_code == 200 and done

        for sessions in ctx.sessions:
            await _closed_loops(sessions, min(1.0, ctx.duration), turn)
            with _quiet_collector():
                results[sessions] = await _closed_loops(sessions, ctx.duration, turn)
    return results


# --- the benchmark -------------------------------------------------------------------------


def run(ctx: RunContext) -> list[Row]:
    return _run(ctx, "chat", {}, targeted=True)


def run_pg(ctx: RunContext) -> list[Row]:
    """The same turns with the Gateway on PostgreSQL (a database made and dropped here): reported
    beside SQLite's, not held to its targets."""
    if not pg_reachable():
        raise RuntimeError(f"PostgreSQL at {PG_DSN} is unreachable")
    name = f"sophon_bench_chat_{os.getpid()}"
    db_url = asyncio.run(create_pg_database(name))
    ctx.stack.callback(lambda: asyncio.run(drop_pg_database(name)))
    return _run(ctx, "chat-pg", {"SOPHON_DATABASE_URL": db_url}, targeted=False)


def _run(ctx: RunContext, benchmark: str, database: dict[str, str], targeted: bool) -> list[Row]:
    available = frozenset(os.sched_getaffinity(0))
    model_cpus = (available - ctx.server_cpus) if ctx.server_cpus else None
    model_root = ctx.temp_dir()
    model_port = free_port()
    model = ServerProcess(
        "fake-llm",
        python_module_argv("bench.fake_llm", "--port", str(model_port)),
        clean_env(),
        model_root / "fake-llm.log",
        model_port,
        cpus=model_cpus or None,
    )
    ctx.stack.callback(model.stop)
    model.start()

    root = ctx.temp_dir()
    port = free_port()
    settings = {"SOPHON_DATA": str(root / "data"), "SOPHON_RATE_LIMITS_ENABLED": "false",
                "SOPHON_LOG_LEVEL": "WARNING", **database, **ctx.gateway_env}  # fmt: skip
    argv = python_module_argv("bench.hubs_server", "gateway", "--port", str(port))
    gateway = ctx.server("chat-gateway", argv, clean_env(**settings), root, port)
    gateway.start()
    failed: dict[int, str] = {}
    try:
        project = asyncio.run(_gateway(gateway, model.url, ctx, failed))
    finally:
        gateway.stop()
    base = asyncio.run(_direct(model.url, ctx))

    rows: list[Row] = []
    for sessions in ctx.sessions:
        if sessions not in project:
            problem = failed.get(sessions, "not measured")
            raise RuntimeError(
                f"chat at {sessions} session(s) failed: {problem}; measured: "
                + "; ".join(f"{r.metric} {r.project:.1f} {r.unit}" for r in rows)
            )
        phase, lag = project[sessions]
        direct = base[sessions]
        label = "1 session" if sessions == 1 else f"{sessions} sessions"
        warnings = tuple(
            f"{who}: {p.failures} turns failed" + (f" ({'; '.join(p.errors)})" if p.errors else "")
            for who, p in (("gateway", phase), ("direct", direct))
            if p.failures
        )
        turns = len(phase.latencies)
        cpu_ms = phase.cpu * 1000 / turns if turns else float("nan")
        details = (
            f"turns: gateway {turns} in {phase.seconds:.1f} s ({phase.rate:,.0f}/s), direct "
            f"{len(direct.latencies)} ({direct.rate:,.0f}/s); p50 gateway "
            f"{percentile(phase.latencies, 0.5):.2f} ms, direct "
            f"{percentile(direct.latencies, 0.5):.2f} ms; Gateway CPU {phase.cpu:.2f} s "
            f"({cpu_ms:.1f} ms per turn, queued background work included); queue claims "
            f"{lag['claims'] / turns if turns else float('nan'):.2f} per turn",
        )
        for metric, share in (("p50", 0.5), ("p99", 0.99)):
            rows.append(
                Row(
                    benchmark=benchmark,
                    metric=f"turn {metric}, {label} (POST to TaskCompleted)",
                    unit="ms",
                    project=percentile(phase.latencies, share),
                    baseline=percentile(direct.latencies, share),
                    target=TURN_TARGET if targeted and sessions == max(ctx.sessions) else REPORTED,
                    details=details if metric == "p99" else (),
                    warnings=warnings if metric == "p99" else (),
                )
            )
            if sessions == 1:
                over = percentile(phase.latencies, share) - percentile(direct.latencies, share)
                rows.append(
                    Row(
                        benchmark=benchmark,
                        metric=f"turn {metric} over the direct call, 1 session",
                        unit="ms",
                        project=over,
                        baseline=percentile(direct.latencies, share),
                        target=OVER_DIRECT[metric] if targeted else REPORTED,
                    )
                )
        rows.append(
            Row(
                benchmark=benchmark,
                metric=f"Gateway CPU per turn, {label}",
                unit="ms",
                project=cpu_ms,
                baseline=0.0,
                target=CPU_TARGET if targeted else REPORTED,
            )
        )
        rows.append(
            Row(
                benchmark=benchmark,
                metric=f"turns/s, {label} (vs the direct calls)",
                unit="/s",
                project=phase.rate,
                baseline=direct.rate,
                target=THROUGHPUT_TARGET if targeted and sessions == 16 else REPORTED,
                warnings=warnings,
            )
        )
        rows.append(
            Row(
                benchmark=benchmark,
                metric=f"event-loop lag p99, {label}",
                unit="ms",
                project=float(lag["p99"]),
                baseline=0.0,  # the direct calls run no Gateway loop
                target=LAG_TARGET if targeted else REPORTED,
                details=(f"lag max {lag['max']:.1f} ms, longest GC pause {lag['gcMax']:.1f} ms",),
            )
        )
    return rows


BENCHMARK = Benchmark(
    name="chat",
    summary="POST /api/chat to TaskCompleted with a zero-latency model, 1, 16 and 200 sessions",
    run=run,
)
PG_BENCHMARK = Benchmark(
    name="chat-pg",
    summary="the chat benchmark with the Gateway on PostgreSQL (reported, not targeted)",
    run=run_pg,
)
