"""When a worker looks for work: at once for a job queued in this process, again when a job
ends only if one may wait behind it, and not for a notice whose job it already claimed."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import Connection, event

from sophon.platform.db import Database
from sophon.platform.queue import ClaimedJob, JobStatus
from sophon.platform.queue_worker import Worker
from tests.platform.test_queue import (
    add_jobs,
    database,
    run_worker,
    stop_worker,
    tenant,
    wait_for_status,
)

__all__ = ["database", "tenant"]  # fixtures
KIND = "test.serial"


async def test_a_job_queued_behind_a_running_one_of_its_key_runs_when_that_ends(
    database: Database, tenant: str
) -> None:
    started: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()

    async def held(job: ClaimedJob) -> None:
        await started.put(job.id)
        await release.wait()

    worker = Worker(database, {KIND: held}, poll_interval=600)
    stop, task = await run_worker(worker)
    try:
        [first] = await add_jobs(database, tenant, kind=KIND, serial_key="sess:a")
        assert await asyncio.wait_for(started.get(), 5) == first
        [second] = await add_jobs(database, tenant, kind=KIND, serial_key="sess:a")
        await wait_for_status(database, second, JobStatus.QUEUED)
        release.set()
        assert await asyncio.wait_for(started.get(), 5) == second
    finally:
        await stop_worker(stop, task)


async def test_jobs_of_one_key_queued_together_run_one_after_the_other_at_once(
    database: Database, tenant: str
) -> None:
    """One commit queues both: its one wake claims the first, the second waits behind it and
    runs when it ends, with no notice and no poll."""
    ran: asyncio.Queue[str] = asyncio.Queue()

    async def record(job: ClaimedJob) -> None:
        await ran.put(job.id)

    worker = Worker(database, {KIND: record}, poll_interval=600)
    stop, task = await run_worker(worker)
    try:
        jobs = await add_jobs(database, tenant, 3, kind=KIND, serial_key="sess:b")
        done: list[str] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while len(done) < len(jobs):
                    done.append(await ran.get())
        assert done == jobs
    finally:
        await stop_worker(stop, task)


async def test_a_job_that_ends_with_nothing_behind_it_looks_no_further(
    database: Database, tenant: str
) -> None:
    claims: list[str] = []

    def count(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        if "UPDATE jobs SET status=" in statement and "attempts=" in statement:
            claims.append(statement)

    async def quick(job: ClaimedJob) -> None:
        return None

    worker = Worker(database, {KIND: quick}, poll_interval=600)
    stop, task = await run_worker(worker)
    engine = database.engine.sync_engine
    try:
        [first] = await add_jobs(database, tenant, kind=KIND)  # past the worker's first looks
        await wait_for_status(database, first, JobStatus.COMPLETED)
        event.listen(engine, "after_cursor_execute", count)
        for key in ("sess:c", "sess:d"):
            [job_id] = await add_jobs(database, tenant, kind=KIND, serial_key=key)
            await wait_for_status(database, job_id, JobStatus.COMPLETED)
    finally:
        event.remove(engine, "after_cursor_execute", count)
        await stop_worker(stop, task)
    assert len(claims) == 2, claims
