"""Trivial-route throughput: `GET /api/health` and `GET /api/version` of the Gateway against the
bare Starlette app's health route, requests/s on loopback, interleaved rounds, medians.

The Gateway runs with rate limits off (one client hammering one route would only measure 429
answers) and otherwise as `sophon serve` sets it, access log included. Next to requests/s it
records the server's CPU time per request (from /proc), which the noise of a shared machine
disturbs less than throughput does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness import Benchmark, Row, RunContext, Target, alternate, median
from bench.processes import ServerProcess, cpu_seconds

TARGET = Target("min_ratio", 0.70)
BASELINE = "baseline GET /api/health"
ROUTES = ("/api/health", "/api/version")


@dataclass
class _Series:
    server: ServerProcess
    url: str
    failures: int = 0
    cpu_us: list[float] = field(default_factory=list)

    def measure(self, ctx: RunContext) -> Callable[[], float]:
        def once() -> float:
            cpu_before = cpu_seconds(self.server.pid)
            result = ctx.load(self.url)
            cpu_used = cpu_seconds(self.server.pid) - cpu_before
            self.failures += result.failures
            self.cpu_us.append(cpu_used / max(result.requests, 1) * 1e6)
            return result.rate

        return once


def run(ctx: RunContext) -> list[Row]:
    # One client hammering one route would only measure 429 answers with rate limits on.
    gateway = ctx.gateway(SOPHON_RATE_LIMITS_ENABLED="false")
    baseline = ctx.baseline()
    gateway.start()
    baseline.start()
    series = {f"GET {path}": _Series(gateway, f"{gateway.url}{path}") for path in ROUTES}
    series[BASELINE] = _Series(baseline, f"{baseline.url}/api/health")

    warm_up = min(2.0, ctx.duration)
    for name, one in series.items():
        ctx.say(f"warm-up {name} ({warm_up:g} s)")
        ctx.load(one.url, warm_up)
    samples = alternate(
        {name: one.measure(ctx) for name, one in series.items()}, ctx.rounds, ctx.say
    )

    base = series[BASELINE]
    rows = []
    for name, one in series.items():
        if one is base:
            continue
        cpu, base_cpu = median(one.cpu_us), median(base.cpu_us)
        warnings = [
            f"{label}: {s.failures} failed requests (non-2xx or socket errors)"
            for label, s in ((name, one), (BASELINE, base))
            if s.failures
        ]
        rows.append(
            Row(
                benchmark="http",
                metric=name,
                unit="req/s",
                project=median(samples[name]),
                baseline=median(samples[BASELINE]),
                target=TARGET,
                project_samples=tuple(samples[name]),
                baseline_samples=tuple(samples[BASELINE]),
                details=(
                    f"server CPU per request {cpu:.0f} us vs {base_cpu:.0f} us "
                    f"(baseline/project {base_cpu / cpu:.2f})",
                ),
                warnings=tuple(warnings),
            )
        )
    return rows


BENCHMARK = Benchmark(
    name="http",
    summary="requests/s of GET /api/health and /api/version vs a bare Starlette app",
    run=run,
)
