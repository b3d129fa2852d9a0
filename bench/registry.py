"""Every benchmark `python -m bench` knows, in the order it runs them. A new benchmark is one module
exposing `BENCHMARK = Benchmark(name, summary, run)` and one line here."""

from __future__ import annotations

from bench import (
    chat,
    cold_start,
    cron,
    dashboard,
    documents,
    http_trivial,
    hubs,
    idle_rss,
    mcp,
    memory,
    skills,
    webhooks,
    workflows,
)
from bench.harness import Benchmark

BENCHMARKS: list[Benchmark] = [
    http_trivial.BENCHMARK,
    cold_start.BENCHMARK,
    idle_rss.BENCHMARK,
    hubs.BENCHMARK,
    chat.BENCHMARK,
    chat.PG_BENCHMARK,
    memory.BENCHMARK,
    cron.BENCHMARK,
    cron.PG_BENCHMARK,
    webhooks.BENCHMARK,
    workflows.BENCHMARK,
    documents.BENCHMARK,
    mcp.BENCHMARK,
    skills.BENCHMARK,
    dashboard.BENCHMARK,
]


def by_name(name: str) -> Benchmark:
    for benchmark in BENCHMARKS:
        if benchmark.name == name:
            return benchmark
    known = ", ".join(b.name for b in BENCHMARKS)
    raise KeyError(f"unknown benchmark {name!r} (known: {known})")
