"""The durable job queue: enqueue inside the caller's transaction, claim with leases (PostgreSQL
`FOR UPDATE SKIP LOCKED`; SQLite's IMMEDIATE write transactions serialize claimers), retries with
backoff, cancellation, and recovery of jobs whose worker died."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Update, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from sophon.platform import prepared, queue_commit
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.ids import new_id
from sophon.platform.queue_commit import Outcome as Outcome  # re-exported: the queue's API
from sophon.platform.queue_commit import on_enqueued as on_enqueued
from sophon.platform.queue_models import FINISHED as FINISHED
from sophon.platform.queue_models import Job as Job
from sophon.platform.queue_models import JobStatus as JobStatus
from sophon.platform.tenancy import ALL_TENANTS, CrossTenantWrite, session_tenant

RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 3600.0
WORKER_LOST = "worker lost"


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker holds while it runs a job (a detached copy of the row)."""

    id: str
    tenant_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    serial_key: str | None
    lease_expires_at: datetime
    worker_id: str = ""
    prepared: Any = None  # what the kind's `Prepare` made of it in the claim's transaction
    outcome: Outcome = field(default_factory=Outcome, compare=False, repr=False)


@dataclass(frozen=True)
class Heartbeat:
    """Truthy while the lease is held; `cancel_requested` asks the worker to stop the job."""

    held: bool
    cancel_requested: bool = False

    def __bool__(self) -> bool:
        return self.held


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the `attempts`-th failed attempt."""
    seconds = RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, RETRY_MAX_SECONDS))


def enqueue(
    db: AsyncSession | Session,
    kind: str,
    payload: dict[str, Any],
    *,
    serial_key: str | None = None,
    run_after: datetime | None = None,
    priority: int = 0,
    max_attempts: int = 3,
    tenant_id: str | None = None,
) -> Job:
    """Adds a job to the caller's (tenant) transaction: workers see it only once that commits.
    `tenant_id`: the job's tenant when the caller names it (else the session's)."""
    values = _job_row(kind, payload, serial_key, run_after, priority, max_attempts)
    if tenant_id is not None:
        values["tenant_id"] = tenant_id
    job = Job(**values)
    db.add(job)
    _wake_on_commit(db, kind, values)
    return job


_INSERT_JOB = insert(Job)  # run on the connection: plain Core, no unit of work


async def insert_job(
    db: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    serial_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 3,
) -> str:
    """`enqueue` as one cached INSERT run now, not an ORM object flushed later (a hot path's
    job: a chat turn's). Returns the job's id."""
    tenant = session_tenant(db.sync_session)
    if tenant is None:
        raise CrossTenantWrite("Job created outside a tenant")
    values = _job_row(kind, payload, serial_key, run_after, 0, max_attempts)
    values["tenant_id"] = tenant
    await prepared.run(db, _INSERT_JOB, values)
    _wake_on_commit(db, kind, values)
    return str(values["id"])


def _job_row(
    kind: str,
    payload: dict[str, Any],
    serial_key: str | None,
    run_after: datetime | None,
    priority: int,
    max_attempts: int,
) -> dict[str, Any]:
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    now = utcnow()
    return {
        "id": new_id("job"),
        "kind": kind,
        "payload": payload,
        "status": JobStatus.QUEUED.value,
        "priority": priority,
        "run_after": run_after or now,
        "attempts": 0,
        "max_attempts": max_attempts,
        "serial_key": serial_key,
        "cancel_requested": False,
        "created_at": now,
        "updated_at": now,
    }


def _wake_on_commit(db: AsyncSession | Session, kind: str, values: dict[str, Any]) -> None:
    if values["run_after"] <= values["created_at"]:  # due at once: wake this process's workers
        sync = db.sync_session if isinstance(db, AsyncSession) else db
        queue_commit.queued(sync, kind, values["id"], values["serial_key"])


async def is_queued(db: AsyncSession, kind: str) -> bool:
    """Whether a job of `kind` of the session's tenant waits to run (scheduled ones included)."""
    stmt = select(Job.id).where(Job.kind == kind, Job.status == JobStatus.QUEUED.value).limit(1)
    return await db.scalar(stmt) is not None


@lru_cache(maxsize=64)
def _claiming(kinds: tuple[str, ...], limit: int) -> Update:
    """The claim, one UPDATE … RETURNING built once per kinds and limit (`now`, the worker and
    its lease are bound at each claim): building it, an aliased self-join included, cost more
    CPU than running it, and a SELECT before the UPDATE cost a statement."""
    job, other = aliased(Job), aliased(Job)  # aliases: no correlation with the UPDATE's table
    same_key_busy = (
        select(other.id)
        .where(
            other.serial_key == job.serial_key,
            or_(
                other.status == JobStatus.RUNNING.value,
                and_(other.status == JobStatus.QUEUED.value, other.id < job.id),
            ),
        )
        .exists()
    )
    due = (
        select(job.id)
        .where(
            job.status == JobStatus.QUEUED.value,
            # one bound parameter per kind, not an expanding IN: the statement compiles once
            job.kind.in_([bindparam(f"kind_{i}", kind) for i, kind in enumerate(kinds)]),
            job.run_after <= bindparam("now"),
            or_(job.serial_key.is_(None), ~same_key_busy),
        )
        .order_by(job.priority.desc(), job.run_after, job.id)
        .limit(limit)
        .with_for_update(of=job, skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED")  # once: PostgreSQL may rescan a subquery, claiming more
    )
    return (
        update(Job)
        .where(Job.id.in_(select(due.c.id)), Job.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.RUNNING.value,
            attempts=Job.attempts + 1,
            lease_owner=bindparam("b_worker"),
            lease_expires_at=bindparam("b_expires"),
            updated_at=bindparam("now"),
        )
        .returning(
            Job.id,
            Job.tenant_id,
            Job.kind,
            Job.payload,
            Job.attempts,
            Job.max_attempts,
            Job.serial_key,
            Job.priority,
            Job.run_after,
        )
    )


Prepare = Callable[[AsyncSession, "ClaimedJob"], Awaitable[Any]]
"""Run for a job of its kind in the claim's own transaction (no tenant: it names the job's), so a
handler's first reads and writes need no transaction of their own; its result is the job's
`prepared`. It must not fail on a job it cannot prepare (its handler then does the work)."""


async def claim(
    database: Database,
    worker_id: str,
    kinds: Sequence[str],
    lease_seconds: float,
    limit: int = 1,
    allowed: Callable[[AsyncSession], Awaitable[bool]] | None = None,
    prepare: Mapping[str, Prepare] | None = None,
) -> list[ClaimedJob]:
    """Moves up to `limit` due Queued jobs of `kinds` to Running under a lease for `worker_id`,
    unless `allowed`, asked first in the same transaction, says no; `prepare` by kind."""
    if not kinds or limit < 1:
        return []
    async with database.transaction() as db:
        if allowed is not None and not await allowed(db):
            return []
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        values = {"now": now, "b_worker": worker_id, "b_expires": expires}
        result = await prepared.run(db, _claiming(tuple(kinds), limit), values)
        rows = sorted(result.all(), key=lambda row: (-row.priority, row.run_after, row.id))
        jobs = [
            ClaimedJob(
                id=row.id,
                tenant_id=row.tenant_id,
                kind=row.kind,
                payload=dict(row.payload or {}),
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                serial_key=row.serial_key,
                lease_expires_at=expires,
                worker_id=worker_id,
            )
            for row in rows
        ]
        # the leases run from `now`: a slow claim (many jobs, a loaded machine) leaves the rest
        # to their handlers rather than hand them over with their leases nearly gone
        enough = time.monotonic() + lease_seconds / 4
        for i, job in enumerate(jobs):
            if not prepare or time.monotonic() > enough:
                break
            if (made := prepare.get(job.kind)) is not None:
                jobs[i] = replace(job, prepared=await made(db, job))
        return jobs


async def _held(db: AsyncSession, job_id: str, worker_id: str) -> Job | None:
    """The job if `worker_id` still holds its lease (locked on PostgreSQL), else None."""
    statement = (
        select(Job)
        .where(
            Job.id == job_id,
            Job.status == JobStatus.RUNNING.value,
            Job.lease_owner == worker_id,
        )
        .with_for_update()
        .execution_options(**ALL_TENANTS)
    )
    job = await db.scalar(statement)
    if job is None or job.lease_expires_at is None or job.lease_expires_at <= utcnow():
        return None
    return job


def _finish(job: Job, status: JobStatus, now: datetime) -> None:
    job.status = status.value
    job.lease_owner = None
    job.lease_expires_at = None
    job.finished_at = now
    job.updated_at = now


async def heartbeat(
    database: Database, job_id: str, worker_id: str, lease_seconds: float
) -> Heartbeat:
    """Extends the lease; falsy if the lease was lost (expired, reclaimed or finished)."""
    async with database.transaction() as db:
        job = await _held(db, job_id, worker_id)
        if job is None:
            return Heartbeat(held=False)
        now = utcnow()
        job.lease_expires_at = now + timedelta(seconds=lease_seconds)
        job.updated_at = now
        return Heartbeat(held=True, cancel_requested=job.cancel_requested)


async def heartbeat_many(
    database: Database, job_ids: Collection[str], worker_id: str, lease_seconds: float
) -> dict[str, Heartbeat]:
    """`heartbeat` for all the jobs a worker runs, in one transaction: one by one, a worker with
    many jobs on a busy database can take longer to renew their leases than they last."""
    if not job_ids:
        return {}
    async with database.transaction() as db:
        now = utcnow()
        statement = (
            select(Job)
            .where(
                Job.id.in_(list(job_ids)),
                Job.status == JobStatus.RUNNING.value,
                Job.lease_owner == worker_id,
                Job.lease_expires_at > now,
            )
            .with_for_update()
            .execution_options(**ALL_TENANTS)
        )
        beats: dict[str, Heartbeat] = {}
        for job in (await db.scalars(statement)).all():
            job.lease_expires_at = now + timedelta(seconds=lease_seconds)
            job.updated_at = now
            beats[job.id] = Heartbeat(held=True, cancel_requested=job.cancel_requested)
        return {job_id: beats.get(job_id, Heartbeat(held=False)) for job_id in job_ids}


_COMPLETE = (
    update(Job)
    .where(
        Job.id == bindparam("job_id"),
        Job.status == JobStatus.RUNNING.value,
        Job.lease_owner == bindparam("worker_id"),
        Job.lease_expires_at > bindparam("now"),
    )
    .values(
        status=JobStatus.COMPLETED.value,
        result=bindparam("job_result"),
        lease_owner=None,
        lease_expires_at=None,
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
"""Records success, conditioned on the lease as `_held` checks it (every turn ends here): built
once, run on the connection (no ORM), crossing tenants by the job's id."""


async def _completed(db: AsyncSession, job_id: str, worker_id: str, result: Any) -> bool:
    values = {"job_id": job_id, "worker_id": worker_id, "now": utcnow(), "job_result": result}
    return (await prepared.run(db, _COMPLETE, values)).rowcount > 0


async def complete(
    database: Database, job_id: str, worker_id: str, result: dict[str, Any] | None = None
) -> bool:
    """Records success; False if the lease was lost (another attempt owns the job now)."""
    async with database.transaction() as db:
        return await _completed(db, job_id, worker_id, result)


async def complete_in(
    db: AsyncSession, job: ClaimedJob, result: dict[str, Any] | None = None
) -> bool:
    """`complete` inside the handler's own last transaction, saving one of its own: the job ends
    exactly when the handler's writes commit. Once that commits the worker records nothing more
    (`job.outcome`); a rollback leaves the job to the worker as usual."""
    done = await _completed(db, job.id, job.worker_id, result)
    queue_commit.completed(db.sync_session, job.outcome)
    return done


async def fail(database: Database, job_id: str, worker_id: str, error: str, *, retry: bool) -> bool:
    """Records a failed attempt: back to Queued after a backoff while attempts remain and `retry`
    is set, else Failed. False if the lease was lost."""
    async with database.transaction() as db:
        job = await _held(db, job_id, worker_id)
        if job is None:
            return False
        now = utcnow()
        job.last_error = error
        if retry and job.attempts < job.max_attempts:
            _requeue(job, now, now + retry_delay(job.attempts))
        else:
            _finish(job, JobStatus.FAILED, now)
        return True


def _requeue(job: Job, now: datetime, run_after: datetime) -> None:
    job.status = JobStatus.QUEUED.value
    job.lease_owner = None
    job.lease_expires_at = None
    job.run_after = run_after
    job.updated_at = now


async def acknowledge_cancel(database: Database, job_id: str, worker_id: str) -> bool:
    """The worker stopped a job whose cancellation was requested: it becomes Cancelled."""
    async with database.transaction() as db:
        job = await _held(db, job_id, worker_id)
        if job is None:
            return False
        _finish(job, JobStatus.CANCELLED, utcnow())
        return True


async def release(database: Database, job_id: str, worker_id: str) -> bool:
    """Hands a job back untouched (worker shutting down): Queued again, the attempt not counted."""
    async with database.transaction() as db:
        job = await _held(db, job_id, worker_id)
        if job is None:
            return False
        now = utcnow()
        job.attempts = max(job.attempts - 1, 0)
        _requeue(job, now, now)
        return True


async def cancel(db: AsyncSession, job_id: str) -> Job:
    """Cancels a job of the session's tenant: a Queued one at once, a Running one by flagging it
    for its worker (seen on the next heartbeat). Cancelling twice is harmless."""
    job = await db.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise NotFound("No such job.")
    now = utcnow()
    if job.status == JobStatus.QUEUED.value:
        _finish(job, JobStatus.CANCELLED, now)
    elif job.status == JobStatus.RUNNING.value:
        job.cancel_requested = True
        job.updated_at = now
    elif job.status != JobStatus.CANCELLED.value:
        raise Conflict(f"The job is already {job.status}.", {"status": job.status})
    return job


async def bring_forward(db: AsyncSession, job_id: str, run_after: datetime) -> bool:
    """A Queued job of the session's tenant runs no later than `run_after`; False when the job
    is not Queued (running or finished), so the caller queues another."""
    job = await db.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None or job.status != JobStatus.QUEUED.value:
        return False
    if job.run_after > run_after:
        job.run_after = run_after
        job.updated_at = utcnow()
    return True


async def reclaim_expired(database: Database, now: datetime | None = None) -> int:
    """Crash recovery: Running jobs whose lease ran out go back to Queued, or to Failed ("worker
    lost") once they used all their attempts, or to Cancelled if that was requested."""
    moment = now or utcnow()
    async with database.transaction() as db:
        statement = (
            select(Job)
            .where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at <= moment)
            .with_for_update(skip_locked=True)
            .execution_options(**ALL_TENANTS)
        )
        jobs = (await db.scalars(statement)).all()
        for job in jobs:
            if job.cancel_requested:
                _finish(job, JobStatus.CANCELLED, moment)
            elif job.attempts >= job.max_attempts:
                job.last_error = WORKER_LOST
                _finish(job, JobStatus.FAILED, moment)
            else:
                job.last_error = WORKER_LOST
                _requeue(job, moment, moment)
        return len(jobs)


async def depth(database: Database) -> int:
    """Jobs due and waiting across tenants (scheduled ones are not waiting yet)."""
    async with database.transaction(readonly=True) as db:
        statement = (
            select(func.count())
            .select_from(Job)
            .where(Job.status == JobStatus.QUEUED.value, Job.run_after <= utcnow())
            .execution_options(**ALL_TENANTS)
        )
        return int(await db.scalar(statement) or 0)


async def get_job(database: Database, job_id: str) -> Job | None:
    """One job by id across tenants (operators, tests); a detached snapshot."""
    async with database.transaction(readonly=True) as db:
        statement = select(Job).where(Job.id == job_id).execution_options(**ALL_TENANTS)
        return await db.scalar(statement)
