"""Idle memory: resident set size (VmRSS) of the Gateway shortly after start-up, with no load,
against the bare Starlette app under uvicorn."""

from __future__ import annotations

import time

from bench.harness import Benchmark, Row, RunContext, Target, alternate, median
from bench.processes import rss_mb

TARGET = Target("max_value", 150)
SETTLE_SECONDS = 1.0


def _idle_rss(ctx: RunContext, gateway: bool) -> float:
    process = ctx.gateway() if gateway else ctx.baseline()
    try:
        process.start()
        time.sleep(SETTLE_SECONDS)  # let start-up work queued after the first answer finish
        return rss_mb(process.pid)
    finally:
        process.stop()


def run(ctx: RunContext) -> list[Row]:
    samples = alternate(
        {
            "gateway": lambda: _idle_rss(ctx, gateway=True),
            "baseline": lambda: _idle_rss(ctx, gateway=False),
        },
        ctx.rounds,
        ctx.say,
    )
    return [
        Row(
            benchmark="idle-rss",
            metric="VmRSS after start-up, idle",
            unit="MB",
            project=median(samples["gateway"]),
            baseline=median(samples["baseline"]),
            target=TARGET,
            project_samples=tuple(samples["gateway"]),
            baseline_samples=tuple(samples["baseline"]),
        )
    ]


BENCHMARK = Benchmark(
    name="idle-rss",
    summary="resident memory (VmRSS) after start-up, idle",
    run=run,
)
