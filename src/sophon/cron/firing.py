"""Firing: a due job is claimed under its row lock (PostgreSQL `SKIP LOCKED`; SQLite's one
writer), its fire recorded once per `(job, scheduledFor)` and its work queued on the durable queue
in the same transaction, so a crash right after a fire never fires it again. Misfires are
coalesced: after downtime a job runs once if its latest missed time is within its grace, else
one `Missed` record is written and it waits for its next time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.cron.models import (
    CronJob,
    CronRun,
    JobStatus,
    OverlapPolicy,
    RunStatus,
    ScheduleType,
    Trigger,
)
from sophon.cron.schedule import Schedule, zone
from sophon.platform import queue
from sophon.platform.clock import iso, utcnow
from sophon.platform.db import Database
from sophon.platform.events import Audience, Event, EventName, after_commit
from sophon.platform.ids import new_id
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS

RUN_JOB = "cron.run"
CHANGED = "CronChanged"  # internal: schedules changed, every scheduler looks again
CATCH_UP_AFTER = timedelta(seconds=60)  # a fire this late (or coalesced) is a catch-up
BATCH = 200
SYSTEM_ACTOR = {"userId": None, "email": None, "role": "System", "tenantId": None}


def new_job_id() -> str:
    return new_id("cron")


def schedule_of(job: CronJob) -> Schedule:
    return Schedule(
        ScheduleType(job.schedule_type), job.expression, zone(job.timezone), job.anchor_at
    )


def changed(db: AsyncSession) -> None:
    after_commit(db, Event(CHANGED, {}, None, Audience()))


def audience(job: CronJob) -> Audience:
    if job.created_by:
        return Audience(user_ids=frozenset({job.created_by}))
    return Audience(permission=Permission.MANAGE_CRON_JOBS.value)


def run_payload(job: CronJob, run: CronRun, **extra: Any) -> dict[str, Any]:
    return {
        "jobId": job.id,
        "name": job.name,
        "runId": run.id,
        "scheduledFor": iso(run.scheduled_for),
        "trigger": run.trigger,
        "status": run.status,
        **extra,
    }


async def _running(db: AsyncSession, job_ids: list[str]) -> set[str]:
    """Which of the jobs have a run still running."""
    if not job_ids:
        return set()
    stmt = select(CronRun.job_id).where(
        CronRun.job_id.in_(job_ids), CronRun.status == RunStatus.RUNNING.value
    )
    return set((await db.scalars(stmt)).all())


def _record(
    db: AsyncSession, job: CronJob, scheduled_for: datetime, trigger: Trigger, skip: bool
) -> CronRun:
    """The fire's history record, and its work queued (or `Skipped`), in the caller's
    transaction; `CronFired` goes out after commit."""
    now = utcnow()
    run = CronRun(
        id=new_id("crun"),
        tenant_id=job.tenant_id,
        job_id=job.id,
        scheduled_for=scheduled_for,
        fired_at=now,
        status=(RunStatus.SKIPPED if skip else RunStatus.RUNNING).value,
        trigger=trigger.value,
    )
    db.add(run)
    job.last_run_at = now
    job.last_status = run.status
    if skip:
        run.finished_at, run.duration_ms = now, 0
        run.error = "The previous run was still running."
    else:
        serial = f"cron:{job.id}" if job.overlap_policy == OverlapPolicy.QUEUE.value else None
        work = queue.enqueue(db, RUN_JOB, {"runId": run.id}, serial_key=serial, max_attempts=2)
        work.tenant_id = job.tenant_id
        event = Event(
            EventName.CRON_FIRED.value, run_payload(job, run), job.tenant_id, audience(job)
        )
        after_commit(db, event)
    return run


def _fire_details(run: CronRun) -> dict[str, Any]:
    return {
        "jobId": run.job_id,
        "runId": run.id,
        "trigger": run.trigger,
        "status": run.status,
        "scheduledFor": iso(run.scheduled_for),
    }


@audited("cron.fire")
async def fire(
    db: AsyncSession, job: CronJob, scheduled_for: datetime, trigger: Trigger, who: Principal
) -> CronRun:
    """A fire asked for by a person (run now): recorded, queued (or `Skipped` when the previous
    run is still running and the policy is `skip`) and audited. The caller holds the job's row."""
    skip = job.overlap_policy == OverlapPolicy.SKIP.value and bool(await _running(db, [job.id]))
    run = _record(db, job, scheduled_for, trigger, skip)
    await audit.record(db, who, "cron.fire", ("cron", job.id), details=_fire_details(run))
    return run


@exempt("a missed fire is recorded in the job's history")
def missed(db: AsyncSession, job: CronJob, scheduled_for: datetime, now: datetime) -> CronRun:
    run = CronRun(
        id=new_id("crun"),
        tenant_id=job.tenant_id,
        job_id=job.id,
        scheduled_for=scheduled_for,
        fired_at=now,
        finished_at=now,
        duration_ms=0,
        status=RunStatus.MISSED.value,
        trigger=Trigger.CATCH_UP.value,
        error=f"Missed by more than the grace of {job.misfire_grace_seconds} s.",
    )
    db.add(run)
    job.last_status = run.status
    return run


@exempt("audited with the rest of its batch by fire_due")
def fire_if_due(db: AsyncSession, job: CronJob, now: datetime, running: set[str]) -> CronRun | None:
    """Fires a job whose `next_run_at` has come (row held by the caller) and moves it on;
    `running`: the jobs of the batch with a run still running."""
    due = job.next_run_at
    if due is None or due > now or job.status != JobStatus.ACTIVE.value:
        return None
    schedule = schedule_of(job)
    latest, count = schedule.latest_at_or_before(due, now)
    following = schedule.next_after(now)
    job.next_run_at = following
    if following is None:
        job.status = JobStatus.COMPLETED.value
    if now - latest > timedelta(seconds=job.misfire_grace_seconds):
        return missed(db, job, latest, now)
    late = count > 1 or now - latest > CATCH_UP_AFTER
    skip = job.overlap_policy == OverlapPolicy.SKIP.value and job.id in running
    return _record(db, job, latest, Trigger.CATCH_UP if late else Trigger.SCHEDULE, skip)


def _skips(job: CronJob) -> bool:
    return job.overlap_policy == OverlapPolicy.SKIP.value


async def _audit_batch(db: AsyncSession, tenant_id: str, runs: list[CronRun]) -> None:
    """One `cron.fire` entry for the scheduled fires of one batch (up to `BATCH` jobs): an entry
    per fire made 1,000 jobs due at once wait on the audit chain, one at a time."""
    resource = ("cron", runs[0].job_id if len(runs) == 1 else None)
    await audit.record(
        db,
        {**SYSTEM_ACTOR, "tenantId": tenant_id},
        "cron.fire",
        resource,
        details={"count": len(runs), "runs": [_fire_details(r) for r in runs]},
    )


async def next_due(database: Database) -> datetime | None:
    """The earliest `next_run_at` of every tenant (one indexed lookup)."""
    async with database.transaction(readonly=True) as db:
        stmt = select(func.min(CronJob.next_run_at)).execution_options(**ALL_TENANTS)
        return await db.scalar(stmt)


async def fire_due(database: Database, now: datetime | None = None) -> int:
    """Fires every job due at `now`; returns how many fires (and misses) were recorded."""
    moment = now or utcnow()
    async with database.transaction(readonly=True) as db:
        stmt = (
            select(CronJob.tenant_id)
            .where(CronJob.next_run_at <= moment)
            .distinct()
            .execution_options(**ALL_TENANTS)
        )
        tenants = list((await db.scalars(stmt)).all())
    fired = 0
    for tenant_id in tenants:
        while True:
            async with database.transaction(tenant_id=tenant_id) as db:
                claim = (
                    select(CronJob)
                    .where(CronJob.next_run_at <= moment)
                    .order_by(CronJob.next_run_at)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                )
                batch = list((await db.scalars(claim)).all())
                running = await _running(db, [j.id for j in batch if _skips(j)])
                with db.no_autoflush:
                    runs = [r for j in batch if (r := fire_if_due(db, j, moment, running))]
                if runs:
                    await _audit_batch(db, tenant_id, runs)
                fired += len(runs)
            if len(batch) < BATCH:
                break
    return fired
