"""The task ledger: create tasks (each backed by a queue job), read them with per-user
visibility, cancel them cooperatively, and wait for one to finish. HTTP-free."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.platform import queue
from sophon.platform.clock import iso, utcnow
from sophon.platform.db import Database
from sophon.platform.errors import Conflict, NotAuthorized, NotFound
from sophon.platform.events import EventBus, EventName, Subscription, after_commit
from sophon.platform.ids import new_id
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS, acting_in, session_tenant
from sophon.tasks import events
from sophon.tasks.models import ACTIVE, FINISHED, Task, TaskStatus

TURN_JOB = "agent.turn"
DESCRIPTION_CHARS = 100
TERMINAL_EVENTS = frozenset(
    {EventName.TASK_COMPLETED.value, EventName.TASK_FAILED.value, EventName.TASK_CANCELLED.value}
)
# a turn interrupted by a crash is resumed once; a second crash ends it "gateway restarted"
TURN_ATTEMPTS = 2


@exempt("queued by a chat message or a heartbeat; the task is the ledger entry")
def create(
    db: AsyncSession,
    *,
    kind: str,
    user_id: str | None,
    agent_id: str,
    session_id: str,
    message_id: str | None,
    description: str,
    streaming: bool = True,
    parent_task_id: str | None = None,
    run_after: datetime | None = None,
) -> Task:
    """A Queued task and its job; turns of one session run one at a time, in order.
    `run_after`: not before then (unless its job is brought forward)."""
    task = Task(
        id=new_id("task"),
        tenant_id=session_tenant(db.sync_session),  # now, not at flush: the event needs it
        kind=kind,
        status=TaskStatus.QUEUED.value,
        session_id=session_id,
        agent_id=agent_id,
        user_id=user_id,
        message_id=message_id,
        parent_task_id=parent_task_id,
        description=description[:DESCRIPTION_CHARS],
        streaming=streaming,
        log=[],
    )
    job = queue.enqueue(
        db,
        TURN_JOB,
        {"taskId": task.id},
        serial_key=turn_serial_key(session_id),
        run_after=run_after,
        max_attempts=TURN_ATTEMPTS,
    )
    task.job_id = job.id
    db.add(task)
    after_commit(db, events.task_event(task, EventName.TASK_QUEUED))
    return task


def turn_serial_key(session_id: str) -> str:
    """Turns of one session run one at a time, in order."""
    return f"session:{session_id}"


@exempt("a workflow run's ledger entry; the trigger is audited by the workflow")
def open_task(
    db: AsyncSession,
    *,
    kind: str,
    user_id: str | None,
    description: str,
    job_id: str,
    parent_task_id: str | None = None,
) -> Task:
    """A Queued task for work another domain runs on its own queue job (a workflow run)."""
    task = Task(
        id=new_id("task"),
        tenant_id=session_tenant(db.sync_session),
        kind=kind,
        status=TaskStatus.QUEUED.value,
        user_id=user_id,
        parent_task_id=parent_task_id,
        job_id=job_id,
        description=description[:DESCRIPTION_CHARS],
        streaming=False,
        log=[],
    )
    db.add(task)
    after_commit(db, events.task_event(task, EventName.TASK_QUEUED))
    return task


@exempt("the runner's lifecycle bookkeeping")
def rebind_job(task: Task, job_id: str) -> None:
    """The task goes on in another queue job (a workflow run resumed after a wait)."""
    task.job_id = job_id


def visible(principal: Principal) -> Select[Task]:
    """Tasks the principal may see: their own, or all of the tenant's with `ViewActiveTasks`."""
    stmt = select(Task)
    if not principal.can(Permission.VIEW_ACTIVE_TASKS):
        stmt = stmt.where(Task.user_id == principal.user_id)
    return stmt


async def get(db: AsyncSession, principal: Principal, task_id: str) -> Task:
    task = await db.scalar(visible(principal).where(Task.id == task_id))
    if task is None:
        raise NotFound("No such task.", {"taskId": task_id})
    return task


@dataclass(frozen=True)
class HistoryFilter:
    status: str | None = None
    agent_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


async def has_ended(db: AsyncSession, task_id: str) -> bool:
    """True when the task is finished or no longer exists."""
    status = await db.scalar(select(Task.status).where(Task.id == task_id))
    return status is None or status in FINISHED


def active(principal: Principal) -> Select[Task]:
    return visible(principal).where(Task.status.in_(ACTIVE))


def history(principal: Principal, where: HistoryFilter) -> Select[Task]:
    stmt = visible(principal).where(Task.status.in_(FINISHED))
    if where.status:
        stmt = stmt.where(Task.status == where.status)
    if where.agent_id:
        stmt = stmt.where(Task.agent_id == where.agent_id)
    if where.since:
        stmt = stmt.where(Task.created_at >= where.since)
    if where.until:
        stmt = stmt.where(Task.created_at < where.until)
    if where.text:
        stmt = stmt.where(Task.description.ilike(f"%{_escape_like(where.text)}%", escape="\\"))
    return stmt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def children_of(db: AsyncSession, task_id: str) -> list[str]:
    return list((await db.scalars(select(Task.id).where(Task.parent_task_id == task_id))).all())


async def active_in_session(db: AsyncSession, session_id: str) -> list[Task]:
    """The session's queued or running tasks."""
    stmt = select(Task).where(Task.session_id == session_id, Task.status.in_(ACTIVE))
    return list((await db.scalars(stmt)).all())


async def lock(db: AsyncSession, task_id: str) -> Task | None:
    """The task, locked for update, whoever owns it (a runner moving it on); None if gone."""
    return await db.get(Task, task_id, with_for_update=True)


@exempt("the task's own log")
def note(task: Task, message: str) -> None:
    """Appends a line to the task's log."""
    task.log = [*task.log, {"at": iso(utcnow()), "message": message}]


@exempt("the runner's lifecycle bookkeeping")
def start(db: AsyncSession, task: Task) -> bool:
    """Moves a claimed task to Running and queues TaskStarted; True when it was Running already
    (a run interrupted by a restart is resumed)."""
    resumed = task.status == TaskStatus.RUNNING.value
    task.status = TaskStatus.RUNNING.value
    task.started_at = task.started_at or utcnow()
    note(task, "resumed after a Gateway restart" if resumed else "started")
    after_commit(
        db, events.task_event(task, EventName.TASK_STARTED, startedAt=iso(task.started_at))
    )
    return resumed


@exempt("usage counters of a turn")
def add_tokens(task: Task, input_tokens: int, output_tokens: int) -> None:
    task.input_tokens += input_tokens
    task.output_tokens += output_tokens


@exempt("the runner's lifecycle bookkeeping; a risky plan is audited by its approval")
async def save_plan(db: AsyncSession, task_id: str, plan: dict[str, Any]) -> None:
    """Stores the task's execution plan (gone tasks are skipped) and notes it in the log."""
    task = await lock(db, task_id)
    if task is not None:
        task.plan = plan
        note(task, f"plan made: {len(plan['steps'])} steps")


@exempt("the runner's lifecycle bookkeeping")
def finish(db: AsyncSession, task: Task, status: TaskStatus, **fields: object) -> None:
    """Moves a task to a terminal state and queues its terminal event."""
    now = utcnow()
    task.status = status.value
    task.finished_at = now
    for name, value in fields.items():
        setattr(task, name, value)
    payload: dict[str, object]
    if status is TaskStatus.COMPLETED:
        name, payload = (
            EventName.TASK_COMPLETED,
            {
                "durationMs": duration_ms(task),
                "tokensUsed": task.input_tokens + task.output_tokens,
            },
        )
    elif status is TaskStatus.FAILED:
        name, payload = EventName.TASK_FAILED, {"error": task.error, "code": task.error_code}
    else:
        name, payload = EventName.TASK_CANCELLED, {}
    after_commit(db, events.task_event(task, name, **payload))


def duration_ms(task: Task) -> int | None:
    if task.started_at is None:
        return None
    end = task.finished_at or utcnow()
    return int((end - task.started_at).total_seconds() * 1000)


@audited("task.cancel")
async def cancel(db: AsyncSession, principal: Principal, task_id: str) -> Task:
    """Queued: cancelled at once. Running: flagged; the runner stops at its next cancellation
    point (a running tool call finishes, queued ones are skipped). Finished: 409."""
    task = await get(db, principal, task_id)
    if task.user_id != principal.user_id and not principal.can(Permission.CANCEL_TASKS):
        raise NotAuthorized(
            "Cancelling another user's task needs the CancelTasks permission.",
            {"permission": Permission.CANCEL_TASKS.value},
        )
    await db.refresh(task, with_for_update=True)
    if task.status in FINISHED:
        raise Conflict(f"The task is already {task.status}.", {"status": task.status})
    was = task.status
    await _cancel_one(db, task)
    await audit.record(db, principal, "task.cancel", ("task", task.id), details={"status": was})
    return task


async def _cancel_one(db: AsyncSession, task: Task, **fields: object) -> None:
    """A Queued task (and its job) ends Cancelled at once with `fields`; a Running one is
    flagged for its runner."""
    if task.status == TaskStatus.QUEUED.value:
        if task.job_id:
            with contextlib.suppress(NotFound, Conflict):
                await queue.cancel(db, task.job_id)
        finish(db, task, TaskStatus.CANCELLED, **fields)
    else:
        task.cancel_requested = True
        after_commit(db, events.cancel_requested(task))


async def wait_finished(
    db: AsyncSession,
    bus: EventBus,
    principal: Principal,
    task_id: str,
    seconds: float,
    stopping: asyncio.Event,
) -> Task:
    """The task once it is finished, or as it is after `seconds` or as soon as `stopping` is set
    (the Gateway shuts down). The read transaction is ended while waiting so no connection is
    held."""
    async with bus.subscribe(
        lambda e: e.name in TERMINAL_EVENTS and e.payload.get("taskId") == task_id, max_queue=4
    ) as finished:
        task = await get(db, principal, task_id)
        deadline = asyncio.get_running_loop().time() + seconds
        while task.status not in FINISHED and not stopping.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await db.commit()
            # a replica without a shared bus finishes tasks too: look again at least every second
            await _next_or_stop(finished, stopping, min(left, 1.0))
            db.expire_all()
            task = await get(db, principal, task_id)
        return task


async def _next_or_stop(finished: Subscription, stopping: asyncio.Event, limit: float) -> None:
    """Returns on the subscription's next event, on `stopping`, or after `limit` seconds."""
    waits = [asyncio.ensure_future(finished.next()), asyncio.ensure_future(stopping.wait())]
    try:
        await asyncio.wait(waits, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


@exempt("crash recovery at start-up")
async def reconcile(
    database: Database, on_finish: Callable[[AsyncSession, Task], Awaitable[None]] | None = None
) -> int:
    """Tasks whose job ended without them (a turn that crashed on its last attempt) end Failed
    with reason "gateway restarted"; `on_finish` runs for each in the same transaction."""
    async with database.transaction() as db:
        stmt = (
            select(Task, queue.Job.status)
            .join(queue.Job, queue.Job.id == Task.job_id)
            .where(Task.status.in_(ACTIVE), queue.Job.status.in_(queue.FINISHED))
            .execution_options(**ALL_TENANTS)
        )
        rows = (await db.execute(stmt)).all()
        for task, _job_status in rows:
            with acting_in(db.sync_session, task.tenant_id):
                finish(
                    db,
                    task,
                    TaskStatus.FAILED,
                    error="gateway restarted",
                    error_code="gateway_restarted",
                )
                if on_finish is not None:
                    await on_finish(db, task)
        return len(rows)


async def running_count(db: AsyncSession) -> int:
    """Running tasks of every tenant."""
    stmt = (
        select(func.count())
        .select_from(Task)
        .where(Task.status == TaskStatus.RUNNING.value)
        .execution_options(**ALL_TENANTS)
    )
    return int(await db.scalar(stmt) or 0)


@exempt("part of deleting the agent, audited as agent.delete")
async def cancel_for_agent(db: AsyncSession, agent_id: str) -> int:
    """Cancels every queued or running task of an agent being deleted (the session's tenant)."""
    rows = (
        await db.scalars(
            select(Task).where(Task.agent_id == agent_id, Task.status.in_(ACTIVE)).with_for_update()
        )
    ).all()
    for task in rows:
        await _cancel_one(db, task, error="The agent was deleted.")
    return len(rows)
