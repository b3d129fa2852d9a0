"""The durable job queue on SQLite and PostgreSQL: claims, leases, serial keys, retries,
cancellation, crash recovery and the worker loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sophon.platform import queue
from sophon.platform.db import Database
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.ids import new_id
from sophon.platform.queue import ClaimedJob, JobStatus
from sophon.platform.queue_worker import PermanentJobError, Worker
from sophon.settings import Settings
from sophon.tenants.models import Tenant
from tests.conftest import FakeClock

KIND = "test.echo"


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.db_url)
    yield db
    await db.close()


async def make_tenant(database: Database, slug: str) -> str:
    tenant_id = new_id("tnt")
    async with database.transaction() as db:
        db.add(Tenant(id=tenant_id, slug=slug, name=slug))
    return tenant_id


@pytest.fixture
async def tenant(database: Database) -> str:
    return await make_tenant(database, "acme")


async def add_jobs(
    database: Database, tenant: str, count: int = 1, kind: str = KIND, **options: Any
) -> list[str]:
    async with database.transaction(tenant_id=tenant) as db:
        jobs = [queue.enqueue(db, kind, {"n": n}, **options) for n in range(count)]
    return [job.id for job in jobs]


async def status_of(database: Database, job_id: str) -> str:
    job = await queue.get_job(database, job_id)
    assert job is not None
    return job.status


async def test_enqueue_claim_complete(database: Database, tenant: str) -> None:
    [job_id] = await add_jobs(database, tenant)
    assert await queue.depth(database) == 1

    [claimed] = await queue.claim(database, "w1", [KIND], lease_seconds=30)
    assert (claimed.id, claimed.tenant_id, claimed.payload) == (job_id, tenant, {"n": 0})
    assert claimed.attempts == 1
    assert await queue.depth(database) == 0
    assert await queue.claim(database, "w2", [KIND], lease_seconds=30) == []
    assert await queue.claim(database, "w2", ["other.kind"], lease_seconds=30) == []

    assert await queue.complete(database, job_id, "w2", {"ok": False}) is False  # not its lease
    assert await queue.complete(database, job_id, "w1", {"ok": True}) is True
    job = await queue.get_job(database, job_id)
    assert job is not None
    assert (job.status, job.result, job.lease_owner) == (JobStatus.COMPLETED, {"ok": True}, None)
    assert job.finished_at is not None
    assert await queue.complete(database, job_id, "w1") is False


async def test_a_job_completed_in_its_handlers_transaction(database: Database, tenant: str) -> None:
    """`complete_in` ends the job with the handler's own writes, and the job's outcome says so
    (the worker then records nothing) only once they commit; a rollback undoes both."""
    first, second = await add_jobs(database, tenant, 2)
    claimed = await queue.claim(database, "w1", [KIND], lease_seconds=30, limit=2)
    by_id = {job.id: job for job in claimed}

    class Abort(Exception):
        pass

    async def complete_then_abort() -> None:
        async with database.transaction(tenant_id=tenant) as db:
            assert await queue.complete_in(db, by_id[first], {"ok": True})
            raise Abort

    with pytest.raises(Abort):
        await complete_then_abort()
    assert not by_id[first].outcome.recorded
    assert await status_of(database, first) == JobStatus.RUNNING

    async with database.transaction(tenant_id=tenant) as db:
        assert await queue.complete_in(db, by_id[first], {"ok": True})
        assert not by_id[first].outcome.recorded
    assert by_id[first].outcome.recorded
    job = await queue.get_job(database, first)
    assert job is not None
    assert (job.status, job.result, job.lease_owner) == (JobStatus.COMPLETED, {"ok": True}, None)
    assert await status_of(database, second) == JobStatus.RUNNING


async def test_prepare_runs_in_the_claims_transaction(database: Database, tenant: str) -> None:
    """A kind's `prepare` sees the claimed job and its result rides on it; other kinds get none."""
    await add_jobs(database, tenant, 1)
    await add_jobs(database, tenant, 1, kind="other.kind")

    async def prepare(db: Any, job: ClaimedJob) -> str:
        assert db.in_transaction()
        return f"prepared {job.payload['n']} for {job.worker_id}"

    claimed = await queue.claim(
        database, "w1", [KIND, "other.kind"], 30, limit=2, prepare={KIND: prepare}
    )
    assert {job.kind: job.prepared for job in claimed} == {
        KIND: "prepared 0 for w1",
        "other.kind": None,
    }


async def test_rolled_back_enqueue_leaves_nothing(database: Database, tenant: str) -> None:
    class Abort(Exception):
        pass

    async def enqueue_then_abort() -> None:
        async with database.transaction(tenant_id=tenant) as db:
            queue.enqueue(db, KIND, {"n": 1})
            await db.flush()
            raise Abort

    with pytest.raises(Abort):
        await enqueue_then_abort()
    assert await queue.depth(database) == 0
    assert await queue.claim(database, "w1", [KIND], lease_seconds=30) == []


async def test_priority_then_creation_order(database: Database, tenant: str) -> None:
    low = await add_jobs(database, tenant, 2)
    [high] = await add_jobs(database, tenant, priority=5)
    claimed = await queue.claim(database, "w1", [KIND], lease_seconds=30, limit=3)
    assert [job.id for job in claimed] == [high, *low]


async def test_concurrent_claimers_run_each_job_exactly_once(
    settings: Settings, database: Database, tenant: str
) -> None:
    job_ids = await add_jobs(database, tenant, 50)
    ran: list[str] = []
    claimers = [Database(settings.db_url) for _ in range(3)]

    async def drain(db: Database, worker_id: str) -> None:
        while claimed := await queue.claim(db, worker_id, [KIND], lease_seconds=30, limit=2):
            for job in claimed:
                ran.append(job.id)
                assert await queue.complete(db, job.id, worker_id)

    try:
        work = asyncio.gather(*(drain(db, f"w{i}") for i, db in enumerate(claimers)))
        await asyncio.wait_for(work, 30)
    finally:
        for db in claimers:
            await db.close()
    assert sorted(ran) == sorted(job_ids)
    assert len(set(ran)) == 50
    assert {await status_of(database, job_id) for job_id in job_ids} == {JobStatus.COMPLETED}


async def test_serial_key_runs_one_at_a_time_in_order(
    database: Database, tenant: str, clock: FakeClock
) -> None:
    a1, a2, a3 = await add_jobs(database, tenant, 3, serial_key="sess:a")
    [b1] = await add_jobs(database, tenant, serial_key="sess:b")
    [free] = await add_jobs(database, tenant)

    first = await queue.claim(database, "w1", [KIND], lease_seconds=30, limit=10)
    assert {job.id for job in first} == {a1, b1, free}
    assert await queue.claim(database, "w2", [KIND], lease_seconds=30, limit=10) == []

    assert await queue.complete(database, a1, "w1")
    [second] = await queue.claim(database, "w2", [KIND], lease_seconds=30, limit=10)
    assert second.id == a2
    # a retried job keeps its place: the later job of its key waits through the backoff
    assert await queue.fail(database, a2, "w2", "boom", retry=True)
    assert await queue.claim(database, "w2", [KIND], lease_seconds=30, limit=10) == []
    clock.advance(seconds=queue.retry_delay(1).total_seconds())
    [retried] = await queue.claim(database, "w2", [KIND], lease_seconds=30, limit=10)
    assert (retried.id, retried.attempts) == (a2, 2)
    assert await queue.complete(database, a2, "w2")
    [third] = await queue.claim(database, "w2", [KIND], lease_seconds=30, limit=10)
    assert third.id == a3


async def test_retry_with_backoff_then_failed(
    database: Database, tenant: str, clock: FakeClock
) -> None:
    [job_id] = await add_jobs(database, tenant, max_attempts=3)
    for attempt in (1, 2):
        [claimed] = await queue.claim(database, "w1", [KIND], lease_seconds=30)
        assert claimed.attempts == attempt
        assert await queue.fail(database, job_id, "w1", f"error {attempt}", retry=True)
        job = await queue.get_job(database, job_id)
        assert job is not None
        assert (job.status, job.last_error) == (JobStatus.QUEUED, f"error {attempt}")
        delay = queue.retry_delay(attempt)
        assert job.run_after == clock.now + delay
        clock.advance(seconds=delay.total_seconds() - 1)
        assert await queue.claim(database, "w1", [KIND], lease_seconds=30) == []
        clock.advance(seconds=1)
    assert queue.retry_delay(2) == 2 * queue.retry_delay(1)

    [last] = await queue.claim(database, "w1", [KIND], lease_seconds=30)
    assert last.attempts == 3
    assert await queue.fail(database, job_id, "w1", "error 3", retry=True)
    assert await status_of(database, job_id) == JobStatus.FAILED
    assert await queue.claim(database, "w1", [KIND], lease_seconds=30) == []


async def test_fail_without_retry_is_final(database: Database, tenant: str) -> None:
    [job_id] = await add_jobs(database, tenant, max_attempts=5)
    await queue.claim(database, "w1", [KIND], lease_seconds=30)
    assert await queue.fail(database, job_id, "w1", "bad payload", retry=False)
    assert await status_of(database, job_id) == JobStatus.FAILED


async def test_expired_lease_is_reclaimed_and_runs_again(
    database: Database, tenant: str, clock: FakeClock
) -> None:
    [job_id] = await add_jobs(database, tenant, max_attempts=2)
    await queue.claim(database, "crashed", [KIND], lease_seconds=30)
    clock.advance(seconds=20)
    assert await queue.heartbeat(database, job_id, "crashed", lease_seconds=30)
    clock.advance(seconds=29)
    assert await queue.reclaim_expired(database) == 0  # the heartbeat extended the lease
    clock.advance(seconds=2)
    assert not await queue.heartbeat(database, job_id, "crashed", lease_seconds=30)

    assert await queue.reclaim_expired(database) == 1
    job = await queue.get_job(database, job_id)
    assert job is not None
    assert (job.status, job.last_error, job.attempts) == (JobStatus.QUEUED, queue.WORKER_LOST, 1)

    [again] = await queue.claim(database, "w2", [KIND], lease_seconds=30)
    assert again.attempts == 2
    assert await queue.complete(database, job_id, "crashed") is False
    clock.advance(seconds=31)
    assert await queue.reclaim_expired(database) == 1  # out of attempts now
    job = await queue.get_job(database, job_id)
    assert job is not None
    assert (job.status, job.last_error) == (JobStatus.FAILED, queue.WORKER_LOST)


async def test_cancel_queued_and_running(database: Database, tenant: str) -> None:
    queued, running, done = await add_jobs(database, tenant, 3)
    await queue.claim(database, "w1", [KIND], lease_seconds=30, limit=3)
    async with database.transaction(tenant_id=tenant) as db:
        assert (await queue.cancel(db, running)).cancel_requested is True
        assert (await queue.cancel(db, running)).status == JobStatus.RUNNING
    assert await queue.complete(database, done, "w1")

    [queued2] = await add_jobs(database, tenant)
    async with database.transaction(tenant_id=tenant) as db:
        assert (await queue.cancel(db, queued2)).status == JobStatus.CANCELLED
        with pytest.raises(Conflict):
            await queue.cancel(db, done)
        with pytest.raises(NotFound):
            await queue.cancel(db, "job_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert await queue.depth(database) == 0
    assert await queue.claim(database, "w2", [KIND], lease_seconds=30) == []

    beat = await queue.heartbeat(database, running, "w1", lease_seconds=30)
    assert beat
    assert beat.cancel_requested
    assert await queue.acknowledge_cancel(database, running, "w1")
    assert await status_of(database, running) == JobStatus.CANCELLED
    assert await status_of(database, queued) == JobStatus.RUNNING  # claimed, not cancelled


async def test_cancel_is_tenant_scoped(database: Database, tenant: str) -> None:
    other = await make_tenant(database, "other")
    [job_id] = await add_jobs(database, tenant)
    async with database.transaction(tenant_id=other) as db:
        with pytest.raises(NotFound):
            await queue.cancel(db, job_id)
    assert await status_of(database, job_id) == JobStatus.QUEUED


async def test_depth_counts_queued_jobs_of_every_tenant(database: Database, tenant: str) -> None:
    other = await make_tenant(database, "other")
    await add_jobs(database, tenant, 3)
    await add_jobs(database, other, 2)
    assert await queue.depth(database) == 5
    await queue.claim(database, "w1", [KIND], lease_seconds=30, limit=2)
    assert await queue.depth(database) == 3


async def run_worker(worker: Worker) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(worker.run_until_stopped(stop))


async def stop_worker(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_worker_wakes_on_notify_and_records_outcomes(database: Database, tenant: str) -> None:
    finished = asyncio.Event()
    results: dict[str, int] = {}

    async def echo(job: ClaimedJob) -> dict[str, Any]:
        results[job.id] = job.payload["n"]
        return {"n": job.payload["n"]}

    async def broken(job: ClaimedJob) -> None:
        finished.set()
        raise PermanentJobError("cannot do this")

    worker = Worker(database, {KIND: echo, "test.broken": broken}, poll_interval=600)
    stop, task = await run_worker(worker)
    try:
        [ok] = await add_jobs(database, tenant)
        [bad] = await add_jobs(database, tenant, kind="test.broken")
        worker.notify()  # a job queued by another process: only a notice or the poll finds it
        await asyncio.wait_for(finished.wait(), 5)
    finally:
        await stop_worker(stop, task)
    assert results == {ok: 0}
    job = await queue.get_job(database, ok)
    assert job is not None
    assert (job.status, job.result) == (JobStatus.COMPLETED, {"n": 0})
    job = await queue.get_job(database, bad)
    assert job is not None
    assert (job.status, job.last_error, job.attempts) == (JobStatus.FAILED, "cannot do this", 1)


async def test_a_job_queued_in_this_process_is_claimed_without_a_notice(
    database: Database, tenant: str
) -> None:
    """The commit that queues a job wakes this process's workers of its kind: no poll delay,
    and no notice from the caller. A job that is not due yet wakes nobody."""
    ran: asyncio.Queue[str] = asyncio.Queue()

    async def echo(job: ClaimedJob) -> None:
        await ran.put(job.id)

    worker = Worker(database, {KIND: echo}, poll_interval=600)
    stop, task = await run_worker(worker)
    try:
        for _ in range(2):  # the second comes after a claim that found nothing else
            [job_id] = await add_jobs(database, tenant)
            assert await asyncio.wait_for(ran.get(), 5) == job_id
            await wait_for_status(database, job_id, JobStatus.COMPLETED)
    finally:
        await stop_worker(stop, task)


async def wait_for_status(database: Database, job_id: str, status: str) -> None:
    async with asyncio.timeout(5):
        while await status_of(database, job_id) != status:  # noqa: ASYNC110 (a database row)
            await asyncio.sleep(0.01)


async def test_worker_cancels_a_running_handler(database: Database, tenant: str) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def slow(job: ClaimedJob) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    [job_id] = await add_jobs(database, tenant)
    worker = Worker(database, {KIND: slow}, poll_interval=600)
    stop, task = await run_worker(worker)
    try:
        await asyncio.wait_for(started.wait(), 5)
        async with database.transaction(tenant_id=tenant) as db:
            await queue.cancel(db, job_id)
        worker.notify(check_leases=True)
        await asyncio.wait_for(stopped.wait(), 5)
    finally:
        await stop_worker(stop, task)
    assert await status_of(database, job_id) == JobStatus.CANCELLED


async def test_stopping_a_worker_hands_running_jobs_back(database: Database, tenant: str) -> None:
    started = asyncio.Event()

    async def slow(job: ClaimedJob) -> None:
        started.set()
        await asyncio.Event().wait()

    [job_id] = await add_jobs(database, tenant)
    worker = Worker(database, {KIND: slow}, poll_interval=600)
    stop, task = await run_worker(worker)
    await asyncio.wait_for(started.wait(), 5)
    await stop_worker(stop, task)
    job = await queue.get_job(database, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.lease_owner) == (JobStatus.QUEUED, 0, None)


async def test_workers_keep_serial_keys_in_order_while_others_proceed(
    settings: Settings, database: Database, tenant: str
) -> None:
    keys = ["sess:a", "sess:b", "sess:c"]
    created = {key: await add_jobs(database, tenant, 4, serial_key=key) for key in keys}
    active = dict.fromkeys(keys, 0)
    most_concurrent_keys = 0
    ran: dict[str, list[str]] = {key: [] for key in keys}
    all_done = asyncio.Event()

    async def turn(job: ClaimedJob) -> None:
        nonlocal most_concurrent_keys
        key = job.serial_key or ""
        active[key] += 1
        most_concurrent_keys = max(most_concurrent_keys, sum(active.values()))
        assert active[key] == 1, "two jobs of one serial key ran at once"
        await asyncio.sleep(0)  # yield so that other jobs can interleave
        ran[key].append(job.id)
        active[key] -= 1
        if sum(len(ids) for ids in ran.values()) == 12:
            all_done.set()
        for worker in workers:
            worker.notify()  # what the in-process event bus does after a job finishes

    second_db = Database(settings.db_url)
    workers = [
        Worker(database, {KIND: turn}, "w1", poll_interval=600, concurrency=4),
        Worker(second_db, {KIND: turn}, "w2", poll_interval=600, concurrency=4),
    ]
    running = [await run_worker(worker) for worker in workers]
    try:
        await asyncio.wait_for(all_done.wait(), 20)
    finally:
        for stop, task in running:
            await stop_worker(stop, task)
        await second_db.close()
    assert ran == created
    assert most_concurrent_keys > 1  # different keys did run side by side
    assert await queue.depth(database) == 0
