"""A chat turn's task rows written with Core statements built once, not ORM objects flushed at
commit: queued with its job, started in the claim's transaction, completed with its answer.
What `service.create`, `start` and `finish` do for every other task, on the hot path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from sophon.audit.marks import exempt
from sophon.platform import prepared, queue
from sophon.platform.clock import iso, utcnow
from sophon.platform.events import EventName, after_commit
from sophon.platform.tenancy import session_tenant
from sophon.tasks import events
from sophon.tasks.models import Task, TaskStatus
from sophon.tasks.service import (
    DESCRIPTION_CHARS,
    TURN_ATTEMPTS,
    TURN_JOB,
    duration_ms,
    turn_serial_key,
)

_INSERT_TASK = insert(Task)  # run on the connection: plain Core, no unit of work


@exempt("queued by a chat message; the task is the ledger entry")
async def queue_turn(
    db: AsyncSession,
    *,
    task_id: str,
    user_id: str | None,
    agent_id: str,
    session_id: str,
    message_id: str,
    description: str,
    streaming: bool,
    run_after: datetime | None = None,
) -> None:
    """`create` for a chat message, its task and job written at once with two cached INSERTs
    instead of ORM objects flushed at commit (the hot path of every turn)."""
    job_id = await queue.insert_job(
        db,
        TURN_JOB,
        {"taskId": task_id},
        serial_key=turn_serial_key(session_id),
        run_after=run_after,
        max_attempts=TURN_ATTEMPTS,
    )
    now = utcnow()
    row: dict[str, Any] = {
        "id": task_id,
        "tenant_id": session_tenant(db.sync_session),  # set: insert_job refused a session without
        "kind": "chat",
        "status": TaskStatus.QUEUED.value,
        "session_id": session_id,
        "agent_id": agent_id,
        "user_id": user_id,
        "message_id": message_id,
        "job_id": job_id,
        "description": description[:DESCRIPTION_CHARS],
        "streaming": streaming,
        "cancel_requested": False,
        "input_tokens": 0,
        "output_tokens": 0,
        "log": [],
        "created_at": now,
        "updated_at": now,
    }
    await prepared.run(db, _INSERT_TASK, row)
    event = Task(**{k: row[k] for k in _EVENT_FIELDS})  # never added: what the event reads
    after_commit(db, events.task_event(event, EventName.TASK_QUEUED))


_EVENT_FIELDS = ("id", "tenant_id", "kind", "session_id", "agent_id", "user_id")


_START = (
    update(Task)
    .where(Task.id == bindparam("b_task"), Task.tenant_id == bindparam("b_tenant"))
    .values(
        status=TaskStatus.RUNNING.value,
        started_at=bindparam("b_started"),
        log=bindparam("b_log"),
        updated_at=bindparam("b_now"),
    )
)


@exempt("the runner's lifecycle bookkeeping")
async def start_turn(db: AsyncSession, task: Task) -> bool:
    """`start` as one UPDATE built once, without the ORM's flush: the loaded `task` gets the new
    values as already stored."""
    resumed = task.status == TaskStatus.RUNNING.value
    now = utcnow()
    started = task.started_at or now
    line = {"at": iso(now), "message": "resumed after a Gateway restart" if resumed else "started"}
    log = [*task.log, line]
    values = {"b_task": task.id, "b_tenant": task.tenant_id, "b_started": started,
              "b_log": log, "b_now": now}  # fmt: skip
    await prepared.run(db, _START, values)
    stored = {"status": TaskStatus.RUNNING.value, "started_at": started, "log": log,
              "updated_at": now}  # fmt: skip
    for name, value in stored.items():
        set_committed_value(task, name, value)
    after_commit(db, events.task_event(task, EventName.TASK_STARTED, startedAt=iso(started)))
    return resumed


_COMPLETE = (
    update(Task)
    .where(Task.id == bindparam("b_task"), Task.tenant_id == bindparam("b_tenant"))
    .values(
        status=TaskStatus.COMPLETED.value,
        finished_at=bindparam("b_now"),
        input_tokens=Task.input_tokens + bindparam("b_input"),
        output_tokens=Task.output_tokens + bindparam("b_output"),
        updated_at=bindparam("b_now"),
    )
    .returning(Task.started_at, Task.input_tokens, Task.output_tokens)
)


@exempt("the runner's lifecycle bookkeeping")
async def complete_turn(
    db: AsyncSession, task: Task, input_tokens: int, output_tokens: int
) -> bool:
    """`add_tokens` and `finish(..., COMPLETED)` in one statement built once, without the ORM:
    `task` (the turn's detached copy) gives the ids and gets the row's new values. False when
    the task is gone (nothing written)."""
    now = utcnow()
    values = {"b_task": task.id, "b_tenant": task.tenant_id, "b_now": now,
              "b_input": input_tokens, "b_output": output_tokens}  # fmt: skip
    row = (await prepared.run(db, _COMPLETE, values)).first()
    if row is None:
        return False
    task.status, task.finished_at = TaskStatus.COMPLETED.value, now
    task.started_at, task.input_tokens, task.output_tokens = row
    after_commit(
        db,
        events.task_event(
            task,
            EventName.TASK_COMPLETED,
            durationMs=duration_ms(task),
            tokensUsed=task.input_tokens + task.output_tokens,
        ),
    )
    return True
