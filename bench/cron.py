"""Cron: how late 1,000 jobs due in the same second start (their signed webhook reaches a
loopback receiver), against a bare asyncio loop that sleeps until the same moment and sends the
same 1,000 requests; and the Gateway's idle CPU with 10,000 scheduled jobs against the same
Gateway with none. `cron-pg` repeats the first on PostgreSQL with two Gateway replicas."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Column, Float, Integer, MetaData, Table, insert, select

from bench.harness import (
    PG_DSN,
    Benchmark,
    Row,
    RunContext,
    Target,
    create_pg_database,
    drop_pg_database,
    pg_reachable,
)
from bench.processes import (
    ServerProcess,
    clean_env,
    cpu_seconds,
    first_admin_token,
    free_port,
    python_module_argv,
)
from sophon.cron.models import CronJob, CronRun
from sophon.platform.db import create_engine
from sophon.platform.ids import new_id
from sophon.platform.keys import load_or_create_key
from sophon.platform.vault import Vault

FIRE_JOBS = 1000
IDLE_JOBS = 10_000
LEAD_SECONDS = 6.0  # from the last insert to the due second
WAIT_SECONDS = 20.0  # for the webhooks to arrive, after the due second
FIRE_TARGET = Target("max_value", 5.0)
IDLE_TARGET = Target("max_value", 1.0)
GATEWAY_ENV = {
    "SOPHON_RATE_LIMITS_ENABLED": "false",
    "SOPHON_OUTBOUND_ALLOW": "127.0.0.1",
    "SOPHON_CRON_MAX_JOBS_PER_TENANT": str(IDLE_JOBS + FIRE_JOBS + 10),
    "SOPHON_HEARTBEAT_ENABLED": "false",
    "SOPHON_LOG_LEVEL": "WARNING",
    "SOPHON_QUEUE_POLL_SECONDS": "1",
    "SOPHON_WORKER_CONCURRENCY": "16",
}


class Receiver:
    """A loopback endpoint that notes when each request arrived (wall clock)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        lock = threading.Lock()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    arrivals.append(time.time())
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.arrivals.clear()

    def wait_for(self, count: int, limit: float) -> None:
        deadline = time.monotonic() + limit
        while len(self.arrivals) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()


def _api(server: ServerProcess, token: str, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(
        method,
        f"{server.url}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        **kw,
    )
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


def _template(server: ServerProcess, token: str, url: str, name: str = "template") -> str:
    """One webhook job made and approved through the API; the benchmark copies its row."""
    job = _api(
        server,
        token,
        "POST",
        "/api/cron",
        json={
            "name": name,
            "expression": "0 0 1 1 *",
            "action": {"type": "webhook", "url": url},
        },
    )
    _api(server, token, "POST", f"/api/approvals/{job['approvalId']}/approve")
    return str(job["id"])


async def _copy(
    db_url: str, data: Path, template_id: str, count: int, due: datetime, url: str, tag: str
) -> None:
    """`count` copies of the template job, all due at `due`, each with its own sealed secret."""
    vault = Vault(load_or_create_key(data, "vault", 32))
    engine = create_engine(db_url, pool=False)
    table = CronJob.__table__
    try:
        async with engine.begin() as conn:
            row = (
                (await conn.execute(select(table).where(table.c.id == template_id)))
                .mappings()
                .one()
            )
            rows = []
            for n in range(count):
                job_id = new_id("cron")
                rows.append(
                    {
                        **row,
                        "id": job_id,
                        "name": f"{tag} {n}",
                        "name_key": f"{tag} {n}",
                        "action": {**row["action"], "url": f"{url}/{n}"},
                        "secret": vault.encrypt("whsec_" + "QUJD" * 8, f"cron:{job_id}"),
                        "next_run_at": due,
                        "anchor_at": due,
                    }
                )
            for start in range(0, count, 500):
                await conn.execute(insert(table), rows[start : start + 500])
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Lags:
    last: float
    median: float
    delivered_last: float
    delivered: int


async def _fired_lags(db_url: str, due: datetime) -> list[float]:
    engine = create_engine(db_url, pool=False)
    table = CronRun.__table__
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(table.c.fired_at).where(table.c.scheduled_for == due))
            return sorted((at - due).total_seconds() for (at,) in rows)
    finally:
        await engine.dispose()


def _fire_lag(
    ctx: RunContext, servers: list[ServerProcess], token: str, db_url: str, receiver: Receiver
) -> Lags:
    """How late the runs were recorded (Running, work queued) and the webhooks received."""
    template = _template(servers[0], token, f"{receiver.url}/template")
    due = datetime.fromtimestamp(int(time.time() + LEAD_SECONDS), UTC)
    data = Path(servers[0].env["SOPHON_DATA"])
    asyncio.run(_copy(db_url, data, template, FIRE_JOBS, due, f"{receiver.url}/hook", "fire"))
    for server in servers:  # they have not heard of rows written behind their back
        _api(server, token, "POST", "/api/ops/scheduler/restart")
    ctx.say(f"{FIRE_JOBS} jobs due at {due.isoformat()}")
    receiver.reset()
    receiver.wait_for(FIRE_JOBS, WAIT_SECONDS + LEAD_SECONDS)
    fired = asyncio.run(_fired_lags(db_url, due))
    if len(fired) != FIRE_JOBS:
        raise RuntimeError(f"{len(fired)} of {FIRE_JOBS} jobs fired")
    arrivals = sorted(at - due.timestamp() for at in receiver.arrivals)
    return Lags(fired[-1], fired[len(fired) // 2], arrivals[-1] if arrivals else 0.0, len(arrivals))


def _baseline_lag(db_url: str) -> tuple[float, float]:
    """The floor: one asyncio loop that sleeps until the due second, then records 1,000 rows in
    one transaction of the same database, each stamped when it was made."""
    due = datetime.fromtimestamp(int(time.time() + 2), UTC)
    scratch = Table(
        f"bench_fires_{os.getpid()}",
        MetaData(),
        Column("n", Integer, primary_key=True),
        Column("at", Float),
    )

    async def run() -> list[float]:
        engine = create_engine(db_url, pool=False)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(scratch.create)
            await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
            async with engine.begin() as conn:
                rows = [{"n": n, "at": time.time()} for n in range(FIRE_JOBS)]
                await conn.execute(insert(scratch), rows)
            done = time.time()
            async with engine.begin() as conn:
                await conn.run_sync(scratch.drop)
            return sorted([r["at"] - due.timestamp() for r in rows] + [done - due.timestamp()])
        finally:
            await engine.dispose()

    lags = asyncio.run(run())
    return lags[-1], lags[len(lags) // 2]


def _idle_cpu_percent(server: ServerProcess, seconds: float) -> float:
    before = cpu_seconds(server.pid)
    time.sleep(seconds)
    return (cpu_seconds(server.pid) - before) / seconds * 100


def _fire_row(name: str, metric: str, project: Lags, base: tuple[float, float]) -> Row:
    warnings: tuple[str, ...] = ()
    if project.delivered < FIRE_JOBS:
        warnings = (f"only {project.delivered} of {FIRE_JOBS} webhooks arrived in time",)
    return Row(
        benchmark=name,
        metric=metric,
        unit="s",
        project=project.last,
        baseline=base[0],
        target=FIRE_TARGET,
        details=(
            f"median fire lag {project.median:.2f} s (baseline {base[1]:.2f} s)",
            f"webhooks received: {project.delivered}, the last {project.delivered_last:.1f} s "
            "after the due second (the queue's workers run them)",
        ),
        warnings=warnings,
    )


def run(ctx: RunContext) -> list[Row]:
    gateway = ctx.gateway(**GATEWAY_ENV)
    gateway.start(timeout=60)
    token = first_admin_token(gateway)
    data = Path(gateway.env["SOPHON_DATA"])
    db_url = f"sqlite+aiosqlite:///{data / 'data' / 'sophon.db'}"
    window = max(5.0, ctx.duration * 2)
    with receiving() as receiver:
        base = _baseline_lag(db_url)
        fired = _fire_lag(ctx, [gateway], token, db_url, receiver)
    gateway.stop()
    # idle: a fresh Gateway, first with no job, then with 10,000 due in a month
    idle = ctx.gateway(**GATEWAY_ENV)
    idle.start(timeout=60)
    idle_token = first_admin_token(idle)
    idle_data = Path(idle.env["SOPHON_DATA"])
    idle_db = f"sqlite+aiosqlite:///{idle_data / 'data' / 'sophon.db'}"
    template = _template(idle, idle_token, "http://127.0.0.1:9/idle", "idle template")
    time.sleep(2)
    idle_empty = _idle_cpu_percent(idle, window)
    later = datetime.now(UTC) + timedelta(days=30)
    asyncio.run(_copy(idle_db, idle_data, template, IDLE_JOBS, later, "http://127.0.0.1:9", "idle"))
    _api(idle, idle_token, "POST", "/api/ops/scheduler/restart")
    time.sleep(2)
    idle_full = _idle_cpu_percent(idle, window)
    ctx.say(f"idle CPU {idle_full:.2f}% with {IDLE_JOBS} jobs, {idle_empty:.2f}% with none")
    return [
        _fire_row(
            "cron", f"last of {FIRE_JOBS} jobs due in one second fired (SQLite)", fired, base
        ),
        Row(
            benchmark="cron",
            metric=f"idle CPU with {IDLE_JOBS:,} scheduled jobs",
            unit="% of a core",
            project=idle_full,
            baseline=idle_empty,
            target=IDLE_TARGET,
            details=(f"over {window:.0f} s; baseline: the same Gateway with no job",),
        ),
    ]


def run_pg(ctx: RunContext) -> list[Row]:
    if not pg_reachable():
        raise RuntimeError(f"PostgreSQL at {PG_DSN} is unreachable")
    name = f"sophon_bench_cron_{os.getpid()}"
    db_url = asyncio.run(create_pg_database(name))
    ctx.stack.callback(lambda: asyncio.run(drop_pg_database(name)))
    root = ctx.temp_dir()
    env = {**GATEWAY_ENV, "SOPHON_DATA": str(root / "data"), "SOPHON_DATABASE_URL": db_url}
    servers = []
    for label in ("replica-a", "replica-b"):
        port = free_port()
        process_env = clean_env(**env, SOPHON_PORT=str(port), **ctx.gateway_env)
        argv = python_module_argv("sophon", "serve")
        server = ctx.server(label, argv, process_env, root, port)
        server.start(timeout=90)  # one after the other: the first migrates the database
        servers.append(server)
    token = first_admin_token(servers[0])
    with receiving() as receiver:
        base = _baseline_lag(db_url)
        fired = _fire_lag(ctx, servers, token, db_url, receiver)
    return [
        _fire_row(
            "cron-pg",
            f"last of {FIRE_JOBS} jobs due in one second fired (PostgreSQL, 2 replicas)",
            fired,
            base,
        )
    ]


BENCHMARK = Benchmark(
    name="cron",
    summary="1,000 cron jobs due at once: start lag; idle CPU with 10,000 jobs",
    run=run,
)
PG_BENCHMARK = Benchmark(
    name="cron-pg",
    summary="1,000 cron jobs due at once on PostgreSQL with two replicas: start lag",
    run=run_pg,
)
