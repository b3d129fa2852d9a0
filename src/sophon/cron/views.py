"""Cron rows as wire models."""

from __future__ import annotations

from datetime import datetime

from sophon.cron.models import CronJob, CronRun
from sophon.cron.schemas import CronJobOut, CronRunOut


def job_out(
    job: CronJob, *, preview: list[datetime] | None = None, secret: str | None = None
) -> CronJobOut:
    return CronJobOut(
        id=job.id,
        name=job.name,
        schedule_type=job.schedule_type,
        expression=job.expression,
        timezone=job.timezone,
        action=job.action,
        enabled=job.enabled,
        status=job.status,
        overlap_policy=job.overlap_policy,
        misfire_grace_seconds=job.misfire_grace_seconds,
        next_run_at=job.next_run_at,
        last_run_at=job.last_run_at,
        last_status=job.last_status,
        approval_id=job.approval_id,
        created_by=job.created_by,
        created_at=job.created_at,
        updated_at=job.updated_at,
        preview=preview,
        signing_secret=secret,
    )


def run_out(run: CronRun) -> CronRunOut:
    return CronRunOut(
        id=run.id,
        job_id=run.job_id,
        scheduled_for=run.scheduled_for,
        fired_at=run.fired_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        status=run.status,
        trigger=run.trigger,
        task_id=run.task_id,
        error=run.error,
    )
