"""Webhook benchmarks against a real `sophon serve` (fresh SQLite data dir).

Outbound: an outbound webhook subscribed to `agent.created`, then 1,000 agents created through
the API over 8 connections: every event must reach a loopback receiver; reported are the
delivery throughput (events delivered per second, first event to last delivery) against a plain
httpx client posting 1,000 signed bodies to the same receiver over as many connections, and the
delay from the event (the envelope's timestamp) to its arrival, p50 and p99.

Inbound: `POST /api/webhooks/receive/{slug}` with a valid `X-Sophon-Signature` at a fixed 200
requests/s for `--duration` seconds (a filter that never matches, so each request is verified,
recorded as a receipt and answered 202 without starting an agent turn), p99 latency of the 202,
against a bare Starlette route doing the same HMAC check (`bench/webhooks_baseline.py`)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import datetime
from typing import Any

import httpx
import uvicorn

from bench.harness import Benchmark, Row, RunContext, Target, percentile
from bench.processes import clean_env, first_admin_token, free_port, python_module_argv

EVENTS = 1000
CONNECTIONS = 8
RATE = 200.0
NO_TARGET = Target("max_value", float("inf"))


class Receiver:
    """A uvicorn thread that records when each request arrived and its body."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/hook"
        config = uvicorn.Config(
            self, lifespan="off", log_config=None, log_level="critical", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            self.arrivals.append((time.time(), body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


async def _create_agents(base: str, headers: dict[str, str], count: int) -> float:
    """Creates `count` agents over CONNECTIONS connections; returns when the first was sent."""
    started = time.time()
    names = iter(range(count))
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            for number in names:
                response = await client.post("/api/agents", json={"name": f"bench-{number}"})
                response.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return started


async def _baseline_posts(url: str, count: int) -> float:
    """Seconds for a plain client to POST `count` signed bodies over CONNECTIONS connections."""
    body = json.dumps({"type": "agent.created", "data": {"agentId": "agt_x"}}).encode()
    signature = "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()
    remaining = iter(range(count))
    limits = httpx.Limits(max_connections=CONNECTIONS)
    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits) as client:

        async def worker() -> None:
            for _ in remaining:
                headers = {"content-type": "application/json", "x-sophon-signature": signature}
                (await client.post(url, content=body, headers=headers)).raise_for_status()

        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return time.perf_counter() - started


def outbound(ctx: RunContext, gateway_url: str, token: str) -> list[Row]:
    headers = {"Authorization": f"Bearer {token}"}
    with Receiver() as receiver:
        made = httpx.post(
            f"{gateway_url}/api/webhooks",
            headers=headers,
            json={"name": "bench", "url": receiver.url, "eventTypes": ["agent.created"]},
        )
        made.raise_for_status()
        ctx.say(f"outbound: creating {EVENTS} agents, each event delivered to the receiver …")
        first = asyncio.run(_create_agents(gateway_url, headers, EVENTS))
        produced = time.time() - first
        deadline = time.time() + 120
        while receiver.count() < EVENTS and time.time() < deadline:
            time.sleep(0.05)
        arrivals = list(receiver.arrivals)
        delivered = len({json.loads(b)["data"]["agentId"] for _, b in arrivals})
        last = max(at for at, _ in arrivals)
        delays = [
            (at - datetime.fromisoformat(json.loads(b)["timestamp"]).timestamp()) * 1000
            for at, b in arrivals
        ]
        throughput = delivered / (last - first)
        ctx.say(f"outbound baseline: a plain client posting {EVENTS} signed bodies …")
        base_seconds = asyncio.run(_baseline_posts(receiver.url, EVENTS))
    warnings = () if delivered == EVENTS else (f"only {delivered} of {EVENTS} delivered",)
    return [
        Row(
            benchmark="webhooks",
            metric=f"outbound: {EVENTS} events delivered",
            unit="events/s",
            project=throughput,
            baseline=EVENTS / base_seconds,
            target=Target("min_ratio", 0.0),
            details=(
                f"{delivered}/{EVENTS} delivered; events made in {produced:.1f} s "
                f"({EVENTS / produced:.0f}/s, agents created through the API); event → receiver "
                f"p50 {percentile(delays, 0.5):.1f} ms, "
                f"p99 {percentile(delays, 0.99):.1f} ms; baseline: a plain client posting",
            ),
            warnings=warnings,
        )
    ]


async def _paced(url: str, secret: str, seconds: float) -> tuple[list[float], int]:
    """POSTs at RATE per second for `seconds`; latencies (ms) of the answers and the failures."""
    body = json.dumps({"ref": "refs/heads/main", "head_commit": {"message": "bench"}}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-sophon-signature": signature}
    latencies: list[float] = []
    failures = 0
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=30) as client:

        async def one() -> None:
            nonlocal failures
            started = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                failures += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status_code != 202

        loop = asyncio.get_running_loop()
        start = loop.time()
        pending = []
        for n in range(int(RATE * seconds)):
            await asyncio.sleep(max(0.0, start + n / RATE - loop.time()))
            pending.append(asyncio.create_task(one()))
        await asyncio.gather(*pending)
    return latencies[int(RATE) :] if len(latencies) > 2 * RATE else latencies, failures


def inbound(ctx: RunContext, gateway_url: str, token: str) -> list[Row]:
    headers = {"Authorization": f"Bearer {token}"}
    made = httpx.post(
        f"{gateway_url}/api/webhooks",
        headers=headers,
        json={
            "kind": "inbound",
            "name": "bench",
            "slug": "bench",
            "filters": [{"type": "header", "name": "X-Never", "value": "1"}],
            "action": {"type": "agent"},
        },
    )
    made.raise_for_status()
    secret = made.json()["secret"]
    root = ctx.temp_dir()
    port = free_port()
    argv = python_module_argv("bench.webhooks_baseline", "--port", str(port), "--secret", secret)
    baseline = ctx.server("webhooks-baseline", argv, clean_env(), root, port)
    baseline.start()
    seconds = max(ctx.duration, 2.0)
    ctx.say(f"inbound: {RATE:.0f} signed requests/s for {seconds:g} s to the Gateway …")
    project, failed = asyncio.run(
        _paced(f"{gateway_url}/api/webhooks/receive/bench", secret, seconds)
    )
    ctx.say("inbound: the same load to the bare Starlette HMAC route …")
    base, base_failed = asyncio.run(
        _paced(f"{baseline.url}/api/webhooks/receive/bench", secret, seconds)
    )
    warnings = tuple(
        f"{n} non-202 answers from the {who}"
        for n, who in ((failed, "Gateway"), (base_failed, "baseline"))
        if n
    )
    return [
        Row(
            benchmark="webhooks",
            metric=f"inbound: p99 of the 202 at {RATE:.0f} req/s",
            unit="ms",
            project=percentile(project, 0.99),
            baseline=percentile(base, 0.99),
            target=NO_TARGET,
            details=(
                f"p50 {percentile(project, 0.5):.1f} ms vs baseline {percentile(base, 0.5):.1f} ms",
            ),
            warnings=warnings,
        )
    ]


def run(ctx: RunContext) -> list[Row]:
    server = ctx.gateway(
        SOPHON_RATE_LIMITS_ENABLED="false",
        SOPHON_OUTBOUND_ALLOW="127.0.0.1",
        SOPHON_WEBHOOK_INBOUND_PER_MINUTE="1000000",
        SOPHON_HEARTBEAT_ENABLED="false",
        SOPHON_QUEUE_POLL_SECONDS="0.5",
        SOPHON_LOG_LEVEL="WARNING",
    )
    server.start(timeout=60)
    token = first_admin_token(server)
    return outbound(ctx, server.url, token) + inbound(ctx, server.url, token)


BENCHMARK = Benchmark(
    name="webhooks",
    summary="outbound delivery throughput and delay; inbound 202 latency vs a bare HMAC route",
    run=run,
)
