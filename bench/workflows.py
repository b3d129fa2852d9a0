"""Workflow engine overhead, in process against a fresh database: a 100-node linear chain of
`data.transform` nodes run by the durable engine through the job queue (each node's start and
result committed) — time per node against the same 100 transforms evaluated in a plain loop;
and 100 concurrent runs of a 10-node workflow through one queue worker, runs/s against the
plain loop doing the same transforms. SQLite always; PostgreSQL too when `SOPHON_TEST_PG` (or
the default local server) answers.

    .venv/bin/python -m bench.workflows [--chain 100] [--runs 100] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.harness import (
    Benchmark,
    Row,
    RunContext,
    Target,
    create_pg_database,
    drop_pg_database,
    on_each_database,
)
from sophon.audit.chain import load_audit_key
from sophon.cli.admin_local import create_user
from sophon.cron.context import CronContext
from sophon.identity.bootstrap import prepare
from sophon.models import metadata
from sophon.platform import migrate
from sophon.platform.db import Database
from sophon.platform.events import MemoryEventBus
from sophon.platform.principal import system_principal
from sophon.platform.queue_worker import Worker
from sophon.platform.vault import Vault
from sophon.providers.connect import ProviderRuntime
from sophon.settings import Settings
from sophon.tools.builtins import builtin_tools
from sophon.tools.registry import ToolRegistry
from sophon.workflows import expressions
from sophon.workflows import run_service as runs
from sophon.workflows import service as workflows
from sophon.workflows.definition import Limits
from sophon.workflows.engine import WorkflowEngine
from sophon.workflows.executors import Services
from sophon.workflows.models import RUN_FINISHED, WorkflowRun

NO_TARGET = Target("max_value", float("inf"))
_PG_NAME = f"sophon_bench_wf_{os.getpid()}"
BENCH_PASSWORD = os.environ.get("SOPHON_BENCH_PASSWORD", "a throwaway bench passphrase")


def chain(length: int) -> dict[str, Any]:
    nodes = [{"id": "n0", "type": "data.transform", "config": {"output": {"i": 0}}}]
    for i in range(1, length):
        nodes.append(
            {
                "id": f"n{i}",
                "type": "data.transform",
                "config": {"output": {"i": f"{{{{ $node.n{i - 1}.output.i + 1 }}}}"}},
            }
        )
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(length - 1)]
    return {
        "name": f"chain {length}",
        "trigger": {"type": "manual"},
        "nodes": nodes,
        "edges": edges,
    }


def plain_loop(definition: dict[str, Any]) -> None:
    """The baseline: the same transforms, evaluated in order in memory."""
    outputs: dict[str, Any] = {}
    for node in definition["nodes"]:
        scope = {"node": outputs, "vars": {}, "trigger": {}, "input": None}
        outputs[node["id"]] = {"output": expressions.resolve(node["config"]["output"], scope)}


async def _database(kind: str, root: Path) -> tuple[Database, Settings]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
    else:
        url = await create_pg_database(_PG_NAME)
    await asyncio.to_thread(migrate.upgrade, url, metadata)
    settings = Settings(data=root / "data", database_url=url, auto_admin=False)
    settings.data.mkdir(parents=True, exist_ok=True)
    database = Database(url, MemoryEventBus(), audit_key=load_audit_key(settings))
    await prepare(settings, database)
    return database, settings


async def _run_many(
    database: Database,
    engine: WorkflowEngine,
    tenant: str,
    workflow_id: str,
    count: int,
    user_id: str,
) -> float:
    """Seconds from queuing `count` runs until the worker finished them all."""
    principal = system_principal(tenant, "default")
    async with database.transaction(tenant_id=tenant) as db:
        workflow = await workflows.get(db, workflow_id)
        for _ in range(count):
            await runs.start(
                db, principal, workflow, user_id=user_id, trigger={"type": "manual"}, input_=None
            )
    stop = asyncio.Event()
    worker = Worker(
        database, engine.job_handlers(), lease_seconds=60, poll_interval=0.005, concurrency=16
    )
    started = time.perf_counter()
    task = asyncio.create_task(worker.run_until_stopped(stop))
    try:
        while True:
            async with database.transaction(readonly=True, tenant_id=tenant) as db:
                left = await db.scalar(
                    select(func.count())
                    .select_from(WorkflowRun)
                    .where(
                        WorkflowRun.workflow_id == workflow_id,
                        WorkflowRun.status.not_in(RUN_FINISHED),
                    )
                )
            if not left:
                break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        async with database.transaction(readonly=True, tenant_id=tenant) as db:
            stmt = select(WorkflowRun.status, WorkflowRun.error).where(
                WorkflowRun.workflow_id == workflow_id, WorkflowRun.status != "Completed"
            )
            failed = (await db.execute(stmt)).first()
        if failed is not None:  # a figure for runs that did not do the work would be a lie
            raise RuntimeError(f"a benchmark run ended {failed[0]}: {failed[1]}")
        return elapsed
    finally:
        stop.set()
        await task


async def measure(kind: str, length: int, count: int, say: Callable[[str], None]) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sophon-bench-workflows-") as tmp:
        database, settings = await _database(kind, Path(tmp))
        try:
            async with database.transaction(readonly=True) as db:
                tenant = str(await db.scalar(text("SELECT id FROM tenants WHERE slug='default'")))
            user_id, _, _ = await create_user(
                settings,
                email="bench@example.com",
                display_name="Bench",
                password=BENCH_PASSWORD,
                roles=["Admin"],
            )
            tools = ToolRegistry(builtin_tools(settings))
            engine = WorkflowEngine(
                Services(
                    settings=settings,
                    database=database,
                    vault=Vault(b"k" * 32),
                    model_runtime=ProviderRuntime.from_settings(settings),
                    tools=tools,
                )
            )
            limits = Limits(settings.workflow_max_nodes, settings.workflow_max_definition_bytes)
            principal = system_principal(tenant, "default")
            schedules = CronContext(settings=settings, tools=tools, vault=Vault(b"k" * 32))
            ids = {}
            async with database.transaction(tenant_id=tenant) as db:
                for size in (length, 10):
                    made = await workflows.create(
                        db, principal, tools, limits, schedules, chain(size)
                    )
                    ids[size] = made.id
            say(f"{kind}: one run of a {length}-node chain …")
            engine_s = await _run_many(database, engine, tenant, ids[length], 1, user_id)
            started = time.perf_counter()
            for _ in range(5):
                plain_loop(chain(length))
            plain_s = (time.perf_counter() - started) / 5
            rows.append(
                Row(
                    benchmark=f"workflows-{kind}",
                    metric=f"{length}-node chain, per node",
                    unit="ms/node",
                    project=engine_s * 1000 / length,
                    baseline=plain_s * 1000 / length,
                    target=NO_TARGET,
                    details=(f"run {engine_s:.2f} s; baseline: the transforms in a plain loop",),
                )
            )
            say(f"{kind}: {count} concurrent runs of a 10-node workflow …")
            many_s = await _run_many(database, engine, tenant, ids[10], count, user_id)
            started = time.perf_counter()
            for _ in range(count):
                plain_loop(chain(10))
            plain_many = time.perf_counter() - started
            rows.append(
                Row(
                    benchmark=f"workflows-{kind}",
                    metric=f"{count} runs of 10 nodes",
                    unit="runs/s",
                    project=count / many_s,
                    baseline=count / plain_many,
                    target=NO_TARGET,
                    details=(f"{many_s:.2f} s for {count} runs, 16 at a time",),
                )
            )
        finally:
            await database.close()
            if kind == "postgresql":
                await drop_pg_database(_PG_NAME)
    return rows


def run_all(length: int, count: int, pg: bool, say: Callable[[str], None]) -> list[Row]:
    return on_each_database(lambda kind: measure(kind, length, count, say), pg)


def run(ctx: RunContext) -> list[Row]:
    return run_all(100, 100, True, ctx.say)


BENCHMARK = Benchmark(
    name="workflows",
    summary="workflow engine: per-node overhead of a 100-node chain, 100 concurrent runs/s",
    run=run,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workflows", description=__doc__)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    rows = run_all(args.chain, args.runs, not args.no_pg, lambda m: print(m, file=sys.stderr))
    for row in rows:
        print(
            f"{row.benchmark:20} {row.metric:28} {row.project:10.3f} {row.baseline:10.4f} "
            f"{row.unit:8} ratio {row.ratio:9.1f}  {'; '.join(row.details)}"
        )


if __name__ == "__main__":
    main()
