"""Triggers that arrive from inside the Gateway: platform events (`event` trigger), and the
launcher the cron scheduler and inbound webhooks use to start a run (`WorkflowLauncher`).
The listener also wakes waiting runs when what they wait for happens (an approval decided, a
child run ended, a cancel asked through the task ledger)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.identity.auth import principals
from sophon.platform.db import Database
from sophon.platform.errors import Conflict, DomainError, NotFound
from sophon.platform.events import Event, EventBus, EventName
from sophon.platform.memo import Memo
from sophon.tasks import events as task_events
from sophon.workflows import run_service as runs
from sophon.workflows.models import RUN_FINISHED, RunStatus, Workflow, WorkflowRun

log = logging.getLogger("sophon.workflows")
WAKERS = frozenset({EventName.APPROVAL_RESOLVED.value, task_events.CANCEL_REQUESTED})
TASK_ENDINGS = frozenset({EventName.TASK_CANCELLED.value, EventName.TASK_FAILED.value})
CHILD_ENDINGS = frozenset(
    {EventName.WORKFLOW_RUN_COMPLETED.value, EventName.WORKFLOW_RUN_FAILED.value}
)
WAKING = WAKERS | TASK_ENDINGS | CHILD_ENDINGS
NOT_TRIGGERS = frozenset(
    {
        EventName.STREAM_CHUNK.value,
        EventName.AGENT_STATUS.value,
        EventName.WORKFLOW_NODE_STARTED.value,
        EventName.WORKFLOW_NODE_COMPLETED.value,
        task_events.CANCEL_REQUESTED,
    }
)


@lru_cache(maxsize=256)
def dotted(name: str) -> str:
    """`TaskCompleted` → `task.completed` (triggers may name an event either way)."""
    return re.sub(r"(?<!^)([A-Z])", r".\1", name).lower()


def matches(trigger: Mapping[str, Any], event: Event) -> bool:
    wanted = str(trigger.get("event", ""))
    if wanted not in (event.name, dotted(event.name)):
        return False
    filters = trigger.get("filters") or {}
    return all(event.payload.get(key) == value for key, value in filters.items())


async def _owner_actor(db: AsyncSession, user_id: str | None, tenant_id: str) -> Any:
    if user_id is None:
        return audit.anonymous_actor()
    try:
        return await principals.for_user(db, user_id, tenant_id)
    except DomainError:
        return audit.anonymous_actor()


class WorkflowLauncher:
    """Starts runs for cron jobs and inbound webhooks whose action is `workflow` (both are given
    it as a `platform.launcher.WorkflowLauncher`), in the caller's transaction, so the fire or
    receipt and the run commit together. A run has the rights of `user_id` (the job's or the
    webhook's owner); a disabled, paused or unapproved workflow is refused (409)."""

    async def exists(self, db: AsyncSession, workflow_id: str) -> bool:
        return await db.get(Workflow, workflow_id) is not None

    async def launch(
        self,
        db: AsyncSession,
        workflow_id: str,
        *,
        trigger: dict[str, Any],
        input: Any,
        user_id: str | None,
    ) -> str:
        workflow = await db.get(Workflow, workflow_id)
        if workflow is None:
            raise NotFound("workflow not found", {"workflowId": workflow_id})
        if not workflow.enabled:
            raise Conflict("The workflow is not enabled.", {"workflowId": workflow_id})
        user_id = user_id or workflow.owner_id
        who = await _owner_actor(db, user_id, workflow.tenant_id)
        started = await runs.start(
            db, who, workflow, user_id=user_id, trigger=trigger, input_=input
        )
        return started.task_id


async def _wake_by_task(db: AsyncSession, task_id: str) -> None:
    run = await runs.find_by_task(db, task_id)
    if run is not None and run.status not in RUN_FINISHED:
        await runs.wake(db, run)


async def _task_ended(db: AsyncSession, task_id: str, status: str, error: Any) -> None:
    """A run's task ended outside the engine (cancelled while queued, failed by crash recovery):
    the run ends with it."""
    run = await runs.find_by_task(db, task_id)
    if run is None or run.status in RUN_FINISHED:
        return
    if status == EventName.TASK_CANCELLED.value:
        await runs.end_run(
            db, run, RunStatus.CANCELLED, {"code": "cancelled", "message": runs.CANCELLED_BY_USER}
        )
    else:
        await runs.end_run(
            db,
            run,
            RunStatus.FAILED,
            {"code": "task_failed", "message": str(error or "The task failed.")},
        )


async def _wake_run(db: AsyncSession, run_id: str) -> None:
    run = await db.get(WorkflowRun, run_id)
    if run is not None and run.status not in RUN_FINISHED:
        await runs.wake(db, run)


_LISTENING: Memo[tuple[tuple[str, dict[str, Any]], ...]] = Memo({"workflows"})
"""Per tenant: the enabled, unpaused workflows with an event trigger (id, trigger), read again
only after a write to workflows: most events trigger nothing, and every event asks."""


async def _listening(db: AsyncSession, tenant_id: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    async def load() -> tuple[tuple[str, dict[str, Any]], ...]:
        stmt = select(Workflow.id, Workflow.definition).where(
            Workflow.trigger_type == "event",
            Workflow.enabled.is_(True),
            Workflow.paused.is_(False),
        )
        rows = (await db.execute(stmt)).all()
        return tuple((id_, dict(definition.get("trigger") or {})) for id_, definition in rows)

    return await _LISTENING.get(db, tenant_id, load)


async def _candidates(db: AsyncSession, event: Event) -> list[Workflow]:
    if event.tenant_id is None:
        return []
    listening = await _listening(db, event.tenant_id)
    wanted = [id_ for id_, trigger in listening if matches(trigger, event)]
    if not wanted:
        return []
    found = await db.scalars(select(Workflow).where(Workflow.id.in_(wanted)))
    return [w for w in found.all() if w.enabled and not w.paused]


async def _fire(db: AsyncSession, event: Event) -> int:
    started = 0
    task_id = event.payload.get("taskId")
    source_run = await runs.find_by_task(db, str(task_id)) if task_id else None
    for workflow in await _candidates(db, event):
        if event.payload.get("workflowId") == workflow.id or (
            source_run is not None and source_run.workflow_id == workflow.id
        ):
            continue  # a workflow is never triggered by its own runs
        who = await _owner_actor(db, workflow.owner_id, workflow.tenant_id)
        try:
            async with db.begin_nested():
                await runs.start(
                    db,
                    who,
                    workflow,
                    user_id=workflow.owner_id,
                    trigger={"type": "event", "event": event.name, "eventId": event.id},
                    input_=dict(event.payload),
                    dedupe_key=f"evt:{event.id}",
                )
            started += 1
        except DomainError as error:
            log.info("event trigger of %s skipped: %s", workflow.id, error.message)
    return started


def relevant(database: Database, event: Event) -> bool:
    """Whether the listener need see `event`, asked as it is published: not when it wakes no run
    and its tenant's event triggers are known and name none of it (most events of a turn)."""
    if event.tenant_id is None:
        return False
    if event.name in WAKING:
        return True
    if event.name in NOT_TRIGGERS:
        return False
    listening = _LISTENING.peek(database, event.tenant_id)
    return listening is None or any(matches(trigger, event) for _, trigger in listening)


async def listen(database: Database, bus: EventBus) -> None:
    """Runs until cancelled: wakes runs and fires event triggers."""
    async with bus.subscribe(partial(relevant, database)) as events:
        async for event in events:
            try:
                await handle(database, event)
            except Exception:  # one bad event must not stop the listener
                log.exception("workflow listener failed on %s", event.name)


async def handle(database: Database, event: Event) -> None:
    wake_task = event.name in WAKERS and bool(event.payload.get("taskId"))
    task_ended = event.name in TASK_ENDINGS and bool(event.payload.get("taskId"))
    wake_parent = event.name in CHILD_ENDINGS and bool(event.payload.get("parentRunId"))
    fire = event.name not in NOT_TRIGGERS
    if fire:  # look first in a read transaction: most events trigger nothing
        async with database.transaction(readonly=True, tenant_id=event.tenant_id) as db:
            fire = bool(await _candidates(db, event))
    if task_ended:  # most tasks are not runs: look first in a read transaction
        async with database.transaction(readonly=True, tenant_id=event.tenant_id) as db:
            run = await runs.find_by_task(db, str(event.payload["taskId"]))
            task_ended = run is not None and run.status not in RUN_FINISHED
    if not (wake_task or wake_parent or fire or task_ended):
        return
    async with database.transaction(tenant_id=event.tenant_id) as db:
        if task_ended:
            await _task_ended(
                db, str(event.payload["taskId"]), event.name, event.payload.get("error")
            )
        if wake_task:
            await _wake_by_task(db, str(event.payload["taskId"]))
        if wake_parent:
            await _wake_run(db, str(event.payload["parentRunId"]))
        if fire:
            await _fire(db, event)
