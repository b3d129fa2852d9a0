"""Cron jobs: create, change, pause, resume, trigger and delete them; their history. HTTP-free.
A change moves `next_run_at` and tells every scheduler (after commit) to look again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals import actions as approval_actions
from sophon.approvals import service as approvals
from sophon.approvals.models import Approval
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.cron import actions, firing
from sophon.cron.context import CronContext
from sophon.cron.models import CronJob, CronRun, JobStatus, ScheduleType, Trigger
from sophon.cron.schedule import parse
from sophon.cron.schemas import CronJobIn, CronJobPatchIn
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.principal import Principal
from sophon.tools.registry import RiskLevel
from sophon.webhooks import signing

APPROVE_ACTION = "cron.approve"
UTC_NAME = "UTC"


def jobs() -> Select[CronJob]:
    """The session tenant's jobs."""
    return select(CronJob)


def history(job_id: str) -> Select[CronRun]:
    return select(CronRun).where(CronRun.job_id == job_id)


async def get(db: AsyncSession, job_id: str, *, for_update: bool = False) -> CronJob:
    stmt = select(CronJob).where(CronJob.id == job_id)
    job = await db.scalar(stmt.with_for_update() if for_update else stmt)
    if job is None:
        raise NotFound("No such cron job.", {"jobId": job_id})
    return job


def _key(name: str) -> str:
    return name.strip().casefold()


async def by_name(db: AsyncSession, name: str) -> CronJob | None:
    return await db.scalar(select(CronJob).where(CronJob.name_key == _key(name)))


async def _refuse_taken(db: AsyncSession, name: str, keep: str | None = None) -> None:
    stmt = select(CronJob.id).where(CronJob.name_key == _key(name))
    found = await db.scalar(stmt)
    if found is not None and found != keep:
        raise Conflict(f"A cron job named {name!r} exists already.", {"name": name})


def _schedule(ctx: CronContext, job: CronJob, now: datetime) -> None:
    """Checks the job's schedule (422) and re-anchors it at `now`."""
    parse(
        ScheduleType(job.schedule_type),
        job.expression,
        job.timezone,
        now=now,
        min_gap_seconds=ctx.settings.cron_min_interval_seconds,
    )
    job.anchor_at = now


@exempt("part of the change that called it, audited there")
def refresh(job: CronJob, now: datetime) -> None:
    """Status and `next_run_at` from the job's switches: only an Active job has a next time."""
    if job.status == JobStatus.COMPLETED.value:
        job.next_run_at = None
        return
    if not job.approved:
        job.status = JobStatus.PENDING_APPROVAL.value
    elif not job.enabled:
        job.status = JobStatus.PAUSED.value
    else:
        job.status = JobStatus.ACTIVE.value
    job.next_run_at = (
        firing.schedule_of(job).next_after(now) if job.status == JobStatus.ACTIVE.value else None
    )


async def _set_action(
    db: AsyncSession,
    principal: Principal,
    ctx: CronContext,
    job: CronJob,
    action: actions.AnyAction,
) -> str | None:
    """Stores the action; a risky one waits for an approval. Returns a new signing secret."""
    stored, risk = await actions.checked(db, ctx, action)
    job.action = stored
    secret = None
    if stored["type"] == "webhook" and job.secret is None:
        secret = signing.new_secret()
        job.secret = ctx.vault.encrypt(secret, f"cron:{job.id}")
    job.approved = not risk.at_least(RiskLevel.MEDIUM)
    job.approval_id = None
    if not job.approved:
        approval = await approvals.request_action(
            db,
            principal,
            action=APPROVE_ACTION,
            tool_name="cron.job",
            risk_level=risk.value,
            arguments={"jobId": job.id},
            preview=_preview(job),
        )
        job.approval_id = approval.id
    return secret


def _preview(job: CronJob) -> str:
    action = job.action
    what = {
        "agent": lambda: f"ask the agent {action.get('agentId')}: {action.get('message')}",
        "workflow": lambda: f"start the workflow {action.get('workflowId')}",
        "webhook": lambda: f"{action.get('method', 'POST')} {action.get('url')}",
        "code": lambda: f"run Python in the sandbox:\n{action.get('source')}",
    }[str(action["type"])]()
    return f"Cron job '{job.name}' ({job.expression}, {job.timezone}) will {what}"


async def _check_quota(db: AsyncSession, ctx: CronContext) -> None:
    count = int(await db.scalar(select(func.count()).select_from(CronJob)) or 0)
    limit = ctx.settings.cron_max_jobs_per_tenant
    if count >= limit:
        raise ValidationFailed(
            f"The tenant has {count} cron jobs, the most it may have.", {"limit": limit}
        )


@audited("cron.create")
async def create(
    db: AsyncSession, principal: Principal, ctx: CronContext, body: CronJobIn
) -> tuple[CronJob, str | None]:
    """A new job (and, for a webhook action, its signing secret, shown this once)."""
    await _check_quota(db, ctx)
    await _refuse_taken(db, body.name)
    now = utcnow()
    job = CronJob(
        id=firing.new_job_id(),
        name=body.name.strip(),
        name_key=_key(body.name),
        schedule_type=body.schedule_type.value,
        expression=body.expression.strip(),
        timezone=body.timezone or UTC_NAME,
        action={},
        enabled=body.enabled,
        status=JobStatus.ACTIVE.value,
        overlap_policy=body.overlap_policy.value,
        misfire_grace_seconds=body.misfire_grace_seconds,
        created_by=principal.user_id,
        anchor_at=now,
    )
    _schedule(ctx, job, now)
    db.add(job)
    secret = await _set_action(db, principal, ctx, job, body.action)
    refresh(job, now)
    firing.changed(db)
    await audit.record(db, principal, "cron.create", ("cron", job.id), details=_summary(job))
    return job, secret


def _summary(job: CronJob) -> dict[str, Any]:
    return {
        "name": job.name,
        "scheduleType": job.schedule_type,
        "expression": job.expression,
        "timezone": job.timezone,
        "action": job.action.get("type"),
        "status": job.status,
    }


@audited("cron.update")
async def update(
    db: AsyncSession, principal: Principal, ctx: CronContext, job_id: str, body: CronJobPatchIn
) -> CronJob:
    """Changes what is given; a new schedule counts from now, a new action is checked (and
    waits for an approval again when it is risky)."""
    job = await get(db, job_id, for_update=True)
    now = utcnow()
    given = body.model_fields_set
    if "name" in given and body.name is not None:
        await _refuse_taken(db, body.name, keep=job.id)
        job.name, job.name_key = body.name.strip(), _key(body.name)
    schedule_changed = False
    if "schedule_type" in given and body.schedule_type is not None:
        job.schedule_type, schedule_changed = body.schedule_type.value, True
    if "expression" in given and body.expression is not None:
        job.expression, schedule_changed = body.expression.strip(), True
    if "timezone" in given:
        job.timezone, schedule_changed = body.timezone or UTC_NAME, True
    if schedule_changed:
        _schedule(ctx, job, now)
        if job.status == JobStatus.COMPLETED.value:
            job.status = JobStatus.ACTIVE.value  # a one-shot given a new time runs again
    if "overlap_policy" in given and body.overlap_policy is not None:
        job.overlap_policy = body.overlap_policy.value
    if "misfire_grace_seconds" in given and body.misfire_grace_seconds is not None:
        job.misfire_grace_seconds = body.misfire_grace_seconds
    if "enabled" in given and body.enabled is not None:
        job.enabled = body.enabled
    if "action" in given and body.action is not None:
        await _withdraw_approval(db, job)
        await _set_action(db, principal, ctx, job, body.action)
    if schedule_changed or given & {"enabled", "action"}:
        refresh(job, now)
    job.updated_at = now
    firing.changed(db)
    await audit.record(
        db, principal, "cron.update", ("cron", job.id), details={"fields": sorted(given)}
    )
    return job


async def _withdraw_approval(db: AsyncSession, job: CronJob) -> None:
    if job.approval_id is not None:
        await approvals.withdraw(db, job.approval_id, "The cron job's action was changed.")


@audited("cron.pause")
async def pause(db: AsyncSession, principal: Principal, job_id: str) -> CronJob:
    """No fire until resumed, on every replica."""
    job = await get(db, job_id, for_update=True)
    job.enabled = False
    refresh(job, utcnow())
    firing.changed(db)
    await audit.record(db, principal, "cron.pause", ("cron", job.id))
    return job


@audited("cron.resume")
async def resume(db: AsyncSession, principal: Principal, job_id: str) -> CronJob:
    """The next time counts from now: what fell due while paused is not run."""
    job = await get(db, job_id, for_update=True)
    now = utcnow()
    job.enabled = True
    job.anchor_at = now
    refresh(job, now)
    firing.changed(db)
    await audit.record(db, principal, "cron.resume", ("cron", job.id))
    return job


@audited("cron.delete")
async def delete(db: AsyncSession, principal: Principal, job_id: str) -> None:
    """Gone with its history (the audit trail keeps what happened); runs in flight finish."""
    job = await get(db, job_id, for_update=True)
    await _withdraw_approval(db, job)
    details = _summary(job)
    await db.delete(job)
    firing.changed(db)
    await audit.record(db, principal, "cron.delete", ("cron", job_id), details=details)


async def trigger(db: AsyncSession, principal: Principal, job_id: str) -> CronRun:
    """Runs the job once now (its overlap policy applies); `nextRunAt` is left alone."""
    job = await get(db, job_id, for_update=True)
    if job.status == JobStatus.PENDING_APPROVAL.value:
        raise Conflict(
            "The job waits for an approval of its action.",
            {"status": job.status, "approvalId": job.approval_id},
        )
    return await firing.fire(db, job, utcnow(), Trigger.MANUAL, principal)


def preview(job: CronJob, count: int) -> list[datetime]:
    if job.next_run_at is None:
        return []
    return [job.next_run_at, *firing.schedule_of(job).preview(job.next_run_at, count - 1)]


async def _on_approved(db: AsyncSession, approval: Approval) -> None:
    job = await db.scalar(
        select(CronJob).where(CronJob.id == str(approval.arguments.get("jobId"))).with_for_update()
    )
    if job is None or job.approval_id != approval.id:
        return  # deleted, or its action changed since: that change asked again
    job.approved = True
    job.approval_id = None
    now = utcnow()
    job.anchor_at = now
    refresh(job, now)
    firing.changed(db)


approval_actions.register(APPROVE_ACTION, _on_approved)
