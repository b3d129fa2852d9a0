"""The `cron` trigger: the cron scheduler fires a workflow through a cron job of its own, named
`workflow:<id>`, that carries the trigger's expression, time zone, overlap and misfire rules. The
job follows the definition: created when a version's trigger becomes `cron`, changed with it,
deleted when the trigger changes or the workflow goes. A fire of a disabled, paused or unapproved
workflow is recorded as Skipped (the workflow ignores its trigger)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.cron import service as cron
from sophon.cron.context import CronContext
from sophon.cron.models import OverlapPolicy
from sophon.cron.schemas import CronJobIn, CronJobPatchIn, WorkflowAction
from sophon.platform.principal import Principal

PREFIX = "workflow:"
DEFAULT_GRACE_SECONDS = 3600


def _wanted(trigger: dict[str, Any]) -> dict[str, Any]:
    """The cron job's schedule fields for a `cron` trigger."""
    return {
        "expression": str(trigger["expression"]),
        "timezone": str(trigger.get("timezone") or "UTC"),
        "overlap_policy": OverlapPolicy(trigger.get("overlap", "skip")),
        "misfire_grace_seconds": (0 if trigger.get("misfire") == "skip" else DEFAULT_GRACE_SECONDS),
    }


async def sync(
    db: AsyncSession,
    principal: Principal,
    ctx: CronContext,
    workflow_id: str,
    trigger: dict[str, Any] | None,
) -> None:
    """Makes the workflow's cron job match `trigger` (None: the workflow is gone)."""
    name = PREFIX + workflow_id
    job = await cron.by_name(db, name)
    if trigger is None or trigger.get("type") != "cron":
        if job is not None:
            await cron.delete(db, principal, job.id)
        return
    wanted = _wanted(trigger)
    if job is None:
        action = WorkflowAction(type="workflow", workflow_id=workflow_id)
        await cron.create(db, principal, ctx, CronJobIn(name=name, action=action, **wanted))
        return
    current = {
        "expression": job.expression,
        "timezone": job.timezone,
        "overlap_policy": OverlapPolicy(job.overlap_policy),
        "misfire_grace_seconds": job.misfire_grace_seconds,
    }
    changed = {key: value for key, value in wanted.items() if current[key] != value}
    if changed:
        await cron.update(db, principal, ctx, job.id, CronJobPatchIn(**changed))
