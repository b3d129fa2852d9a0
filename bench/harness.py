"""The benchmark framework: a benchmark is a name and a function from a RunContext to result rows.

The context owns every process and temp dir a benchmark starts and releases them on exit, Ctrl+C
included; `alternate` runs the project and baseline measurements interleaved to cancel drift."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.load import LoadGenerator, LoadResult
from bench.processes import ServerProcess, clean_env, free_port, python_module_argv

TargetKind = Literal["min_ratio", "max_value", "min_value", "report"]
PG_DSN = os.environ.get("SOPHON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Target:
    """`min_ratio`: project/baseline must reach `limit`; `max_value`: the project figure must stay
    below `limit` (in the row's unit); `min_value`: it must reach `limit`; `report`: a figure
    shown with no target."""

    kind: TargetKind
    limit: float

    def met(self, project: float, baseline: float) -> bool:
        if self.kind == "report":
            return True
        if self.kind == "min_ratio":
            return baseline > 0 and project / baseline >= self.limit
        if self.kind == "min_value":
            return project >= self.limit
        return project < self.limit

    def describe(self, unit: str) -> str:
        if self.kind == "report":
            return "(reported)"
        if self.kind == "min_ratio":
            return f"ratio >= {self.limit:.2f}"
        if self.kind == "min_value":
            return f">= {self.limit:g} {unit}"
        return f"< {self.limit:g} {unit}"

    def shortfall(self, project: float, baseline: float) -> str:
        """How far a missed target is, in words, e.g. "-18% of the ratio"."""
        if self.kind == "min_ratio":
            ratio = project / baseline if baseline else 0.0
            return f"{ratio / self.limit - 1:+.0%} vs target"
        if self.kind == "min_value":
            return f"{project / self.limit - 1:+.0%} vs target"
        return f"{project / self.limit - 1:+.0%} over"


@dataclass(frozen=True)
class Row:
    """One line of the report: a project figure against the baseline measured in the same run."""

    benchmark: str
    metric: str
    unit: str
    project: float
    baseline: float
    target: Target
    project_samples: tuple[float, ...] = ()
    baseline_samples: tuple[float, ...] = ()
    details: tuple[str, ...] = ()  # extra figures worth reading next to the row
    warnings: tuple[str, ...] = ()  # reasons to distrust the row (failed requests, ...)

    @property
    def ratio(self) -> float:
        return self.project / self.baseline if self.baseline else float("nan")

    @property
    def met(self) -> bool:
        return self.target.met(self.project, self.baseline)


@dataclass
class RunContext:
    """What a benchmark gets: run settings, CPU placement, load generator and a cleanup stack."""

    duration: float
    rounds: int
    connections: int
    generator: LoadGenerator
    server_cpus: frozenset[int] | None
    gateway_env: dict[str, str] = field(default_factory=dict)  # `--gateway-env`, applied last
    stack: ExitStack = field(default_factory=ExitStack)
    verbose: bool = True
    sessions: tuple[int, ...] = (1, 16, 200)  # `--sessions`: the chat benchmark's concurrency

    def say(self, message: str) -> None:
        if self.verbose:
            print(f"  {message}", file=sys.stderr, flush=True)

    def temp_dir(self, prefix: str = "sophon-bench-") -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self.stack.callback(shutil.rmtree, path, ignore_errors=True)
        return path

    def gateway(self, **env: str) -> ServerProcess:
        """A `python -m sophon serve` on a fresh SQLite data dir and a free port (not started)."""
        root = self.temp_dir()
        port = free_port()
        settings = {"SOPHON_DATA": str(root / "data"), "SOPHON_HOST": "127.0.0.1"}
        settings |= {"SOPHON_PORT": str(port), **env, **self.gateway_env}
        return self.server(
            "gateway", python_module_argv("sophon", "serve"), clean_env(**settings), root, port
        )

    def baseline(self) -> ServerProcess:
        """The bare Starlette app under the same uvicorn configuration (not started)."""
        root = self.temp_dir()
        port = free_port()
        argv = python_module_argv("bench.baseline_app", "--port", str(port))
        return self.server("baseline", argv, clean_env(), root, port)

    def server(
        self, label: str, argv: list[str], env: dict[str, str], root: Path, port: int
    ) -> ServerProcess:
        process = ServerProcess(
            label, argv, env, root / f"{label}.log", port, cpus=self.server_cpus
        )
        self.stack.callback(process.stop)
        return process

    def load(
        self, url: str, duration: float | None = None, headers: Sequence[str] = ()
    ) -> LoadResult:
        return self.generator.run(url, duration or self.duration, self.connections, headers)

    def release(self) -> None:
        """Stops processes and removes temp dirs (last acquired first)."""
        self.stack.close()


def alternate(
    measures: Mapping[str, Callable[[], float]], rounds: int, say: Callable[[str], None]
) -> dict[str, list[float]]:
    """Runs each measure once per round, reversing the order every other round (A B, B A, ...)
    so slow drift of the machine weighs on every target alike; returns the samples per name."""
    samples: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else reversed(names):
            value = measures[name]()
            samples[name].append(value)
            say(f"round {round_no + 1}/{rounds} {name}: {value:,.2f}")
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the samples lie (nearest rank); NaN for no samples."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


# --- benchmarks of services run in-process on SQLite, then on PostgreSQL when it is reachable ---


def pg_reachable() -> bool:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


async def create_pg_database(name: str) -> str:
    """A new empty PostgreSQL database (dropped first if left over); its SQLAlchemy URL."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def on_each_database(
    measure: Callable[[str], Coroutine[Any, Any, list[Row]]], pg: bool
) -> list[Row]:
    """`measure("sqlite")`, then `measure("postgresql")` if `pg` and PostgreSQL is reachable."""
    rows = asyncio.run(measure("sqlite"))
    if pg and pg_reachable():
        rows += asyncio.run(measure("postgresql"))
    return rows


def cpu_plan(pin: bool) -> tuple[frozenset[int] | None, frozenset[int] | None]:
    """(server CPUs, load-generator CPUs): with two or more CPUs and pinning on, the server gets one
    CPU to itself and the generator the rest, so neither steals the other's time."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return frozenset(available[:1]), frozenset(available[1:])


@dataclass(frozen=True)
class Benchmark:
    name: str
    summary: str
    run: Callable[[RunContext], list[Row]]
