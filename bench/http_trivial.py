"""Trivial-route and authenticated-list throughput: `GET /api/health` and `GET /api/version` of
the Gateway against the bare Starlette app's health route, and `GET /api/agents` with the bearer
token `POST /api/auth/setup` issued against two Starlette routes: one that checks the same
header and returns the same JSON, one that does the same work by hand (PyJWT, then aiosqlite on
the Gateway's database file); requests/s on loopback, interleaved rounds, medians.

The Gateway runs with rate limits off (one client hammering one route would only measure 429
answers) and otherwise as `sophon serve` sets it, access log included. Next to requests/s it
records the server's CPU time per request (from /proc), which the noise of a shared machine
disturbs less than throughput does."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.harness import Benchmark, Row, RunContext, Target, alternate, median
from bench.processes import ServerProcess, cpu_seconds, first_admin_token

TARGET = Target("min_ratio", 0.70)
LIST_TARGET = Target("min_ratio", 0.40)
BASELINE = "baseline GET /api/health"
LIST = "GET /api/agents (bearer JWT)"
LIST_BASELINE = "baseline GET /api/agents (bearer)"
LIST_BY_HAND = "GET /api/agents vs the same by hand"
LIST_BY_HAND_BASELINE = "baseline GET /api/agents (JWT + SQLite by hand)"
ROUTES = ("/api/health", "/api/version")


@dataclass
class _Series:
    server: ServerProcess
    url: str
    headers: Sequence[str] = ()
    failures: int = 0
    cpu_us: list[float] = field(default_factory=list)

    def measure(self, ctx: RunContext) -> Callable[[], float]:
        def once() -> float:
            cpu_before = cpu_seconds(self.server.pid)
            result = ctx.load(self.url, headers=self.headers)
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
    token, body = _sign_in(gateway)
    data = Path(gateway.env["SOPHON_DATA"])
    baseline.env |= {
        "BENCH_TOKEN": token,
        "BENCH_LIST_BODY": body,
        "BENCH_JWT_KEY": (data / "security" / "jwt.key").read_bytes().hex(),
        "BENCH_DATABASE": str(data / "data" / "sophon.db"),
    }
    baseline.start()
    series = {f"GET {path}": _Series(gateway, f"{gateway.url}{path}") for path in ROUTES}
    series[BASELINE] = _Series(baseline, f"{baseline.url}/api/health")
    bearer = (f"Authorization: Bearer {token}",)
    series[LIST] = _Series(gateway, f"{gateway.url}/api/agents", bearer)
    series[LIST_BASELINE] = _Series(baseline, f"{baseline.url}/api/agents", bearer)
    series[LIST_BY_HAND_BASELINE] = _Series(baseline, f"{baseline.url}/api/agents-by-hand", bearer)
    # (metric, measured series, its baseline, target)
    comparisons = [(f"GET {path}", f"GET {path}", BASELINE, TARGET) for path in ROUTES]
    comparisons += [
        (LIST, LIST, LIST_BASELINE, LIST_TARGET),
        (LIST_BY_HAND, LIST, LIST_BY_HAND_BASELINE, LIST_TARGET),
    ]

    warm_up = min(2.0, ctx.duration)
    for name, one in series.items():
        ctx.say(f"warm-up {name} ({warm_up:g} s)")
        ctx.load(one.url, warm_up, one.headers)
    samples = alternate(
        {name: one.measure(ctx) for name, one in series.items()}, ctx.rounds, ctx.say
    )

    rows = []
    for metric, name, base_name, target in comparisons:
        one, base = series[name], series[base_name]
        cpu, base_cpu = median(one.cpu_us), median(base.cpu_us)
        warnings = [
            f"{label}: {s.failures} failed requests (non-2xx or socket errors)"
            for label, s in ((name, one), (base_name, base))
            if s.failures
        ]
        rows.append(
            Row(
                benchmark="http",
                metric=metric,
                unit="req/s",
                project=median(samples[name]),
                baseline=median(samples[base_name]),
                target=target,
                project_samples=tuple(samples[name]),
                baseline_samples=tuple(samples[base_name]),
                details=(
                    f"server CPU per request {cpu:.0f} us vs {base_cpu:.0f} us "
                    f"(baseline/project {base_cpu / cpu:.2f})",
                ),
                warnings=tuple(warnings),
            )
        )
    return rows


def _sign_in(gateway: ServerProcess) -> tuple[str, str]:
    """Creates the first admin as a user would (setup token from the data dir) and returns its
    access token and the Gateway's `GET /api/agents` answer (the default agent)."""
    token = first_admin_token(gateway)
    with httpx.Client(base_url=gateway.url, timeout=30) as api:
        listed = api.get("/api/agents", headers={"Authorization": f"Bearer {token}"})
        listed.raise_for_status()
    return token, json.dumps(listed.json())


BENCHMARK = Benchmark(
    name="http",
    summary="requests/s of GET /api/health, /api/version and an authenticated list vs Starlette",
    run=run,
)
