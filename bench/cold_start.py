"""Cold start: seconds from spawning `python -m sophon serve` on a fresh SQLite data dir until
`/api/health` answers 200, against the same for the bare Starlette app under uvicorn."""

from __future__ import annotations

from bench.harness import Benchmark, Row, RunContext, Target, alternate, median

TARGET = Target("max_value", 1.0)  # issue 24 (it was 1.5 s)
MIN_RUNS = 5


def _start_and_stop(ctx: RunContext, gateway: bool) -> float:
    process = ctx.gateway() if gateway else ctx.baseline()
    try:
        return process.start()
    finally:
        process.stop()


def run(ctx: RunContext) -> list[Row]:
    # One untimed start each fills the page cache and writes any missing bytecode.
    ctx.say("warm-up start of each")
    _start_and_stop(ctx, gateway=True)
    _start_and_stop(ctx, gateway=False)
    samples = alternate(
        {
            "gateway": lambda: _start_and_stop(ctx, gateway=True),
            "baseline": lambda: _start_and_stop(ctx, gateway=False),
        },
        max(MIN_RUNS, ctx.rounds),
        ctx.say,
    )
    return [
        Row(
            benchmark="cold-start",
            metric="spawn to first 200 on /api/health",
            unit="s",
            project=median(samples["gateway"]),
            baseline=median(samples["baseline"]),
            target=TARGET,
            project_samples=tuple(samples["gateway"]),
            baseline_samples=tuple(samples["baseline"]),
        )
    ]


BENCHMARK = Benchmark(
    name="cold-start",
    summary="seconds from spawn to the first 200 on /api/health, fresh data dir",
    run=run,
)
