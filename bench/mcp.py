"""`tools/call` round trips of `datetime.now` through the Gateway's `/mcp/http` (bearer MCP
token checked against the database on every request, the tool run with the token user's rights)
against the same call to the SDK's own minimal MCP server (`bench/mcp_baseline.py`), both over
streamable HTTP with the SDK's `ClientSession` in one session, measured in the same run,
interleaved. Reported: calls per second (median of the rounds) and their ratio."""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.harness import Benchmark, Row, RunContext, Target, alternate, median
from bench.processes import clean_env, first_admin_token, free_port, python_module_argv

TARGET = Target("min_ratio", 0.30)


async def _calls_per_second(url: str, token: str | None, duration: float) -> float:
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.call_tool("datetime.now", {})  # warm
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < duration:
            result = await session.call_tool("datetime.now", {})
            if result.is_error:
                raise RuntimeError(f"datetime.now failed: {result.content}")
            calls += 1
        return calls / (time.perf_counter() - started)


def run(ctx: RunContext) -> list[Row]:
    gateway = ctx.gateway(SOPHON_RATE_LIMITS_ENABLED="false")
    gateway.start(timeout=60)
    admin = first_admin_token(gateway)
    made = httpx.post(
        f"{gateway.url}/api/mcp/server/tokens",
        headers={"Authorization": f"Bearer {admin}"},
        json={"name": "bench"},
        timeout=30,
    )
    made.raise_for_status()
    token = str(made.json()["token"])
    root = ctx.temp_dir()
    port = free_port()
    baseline = ctx.server(
        "mcp-baseline",
        python_module_argv("bench.mcp_baseline", "--port", str(port)),
        clean_env(),
        root,
        port,
    )
    baseline.start(timeout=60)
    samples = alternate(
        {
            "gateway": lambda: asyncio.run(
                _calls_per_second(f"{gateway.url}/mcp/http", token, ctx.duration)
            ),
            "sdk": lambda: asyncio.run(
                _calls_per_second(f"{baseline.url}/mcp", None, ctx.duration)
            ),
        },
        ctx.rounds,
        ctx.say,
    )
    project, base = median(samples["gateway"]), median(samples["sdk"])
    return [
        Row(
            benchmark="mcp",
            metric="tools/call datetime.now over /mcp/http",
            unit="calls/s",
            project=project,
            baseline=base,
            target=TARGET,
            project_samples=tuple(samples["gateway"]),
            baseline_samples=tuple(samples["sdk"]),
            details=(f"{1000 / project:.2f} ms vs {1000 / base:.2f} ms per call",),
        )
    ]


BENCHMARK = Benchmark(
    name="mcp",
    summary="tools/call round trip through /mcp/http vs the SDK's own minimal server",
    run=run,
)
