"""Read-only views of what agents did in a time window (tasks, their sessions and the tools
their turns called), for the memory domain's daily logs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.chat import service as chat
from sophon.tasks.models import Task

ALL_USERS = "*"


@dataclass(frozen=True)
class ToolUse:
    name: str
    status: str


@dataclass(frozen=True)
class TaskActivity:
    id: str
    kind: str
    status: str
    description: str
    session_id: str | None
    user_id: str | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    tokens: int
    tools: list[ToolUse] = field(default_factory=list)


async def pairs_between(
    db: AsyncSession,
    start: datetime,
    end: datetime,
    agent_id: str | None = None,
    users: Sequence[str | None] | None = None,
) -> list[tuple[str, str | None]]:
    """The (agent, user) pairs with at least one task created in [start, end), of one agent and
    some users (None for tasks of no user) when given."""
    stmt = select(Task.agent_id, Task.user_id).where(
        Task.created_at >= start, Task.created_at < end, Task.agent_id.is_not(None)
    )
    if agent_id is not None:
        stmt = stmt.where(Task.agent_id == agent_id)
    if users is not None:
        named = [u for u in users if u is not None]
        stmt = stmt.where(
            or_(Task.user_id.in_(named), Task.user_id.is_(None))
            if None in users
            else Task.user_id.in_(named)
        )
    rows = await db.execute(stmt.distinct())
    return [(str(a), u) for a, u in rows.all()]


@dataclass(frozen=True)
class DayCounts:
    statuses: dict[str, int]
    sessions: int

    @property
    def tasks(self) -> int:
        return sum(self.statuses.values())


def _agent_tasks(
    agent_id: str, start: datetime, end: datetime, user_id: str | None
) -> ColumnElement[bool]:
    """The WHERE clause of an agent's tasks created in [start, end) (see `tasks_between`)."""
    clause = and_(Task.agent_id == agent_id, Task.created_at >= start, Task.created_at < end)
    if user_id is None:
        return and_(clause, Task.user_id.is_(None))
    if user_id != ALL_USERS:
        return and_(clause, Task.user_id == user_id)
    return clause


async def counts_between(
    db: AsyncSession, agent_id: str, start: datetime, end: datetime, user_id: str | None
) -> DayCounts:
    """How many of the agent's tasks in [start, end) ended in each status, and in how many
    sessions, counted by the database rather than by loading the tasks."""
    where = _agent_tasks(agent_id, start, end, user_id)
    # over all the rows, not correlated with each status group
    sessions = select(func.count(distinct(Task.session_id))).where(where).correlate(None)
    rows = await db.execute(
        select(Task.status, func.count(), sessions.scalar_subquery())
        .where(where)
        .group_by(Task.status)
    )
    found = rows.all()
    return DayCounts({str(s): int(n) for s, n, _ in found}, int(found[0][2]) if found else 0)


async def tasks_between(
    db: AsyncSession,
    agent_id: str,
    start: datetime,
    end: datetime,
    user_id: str | None = ALL_USERS,
    *,
    newest: int | None = None,
) -> list[TaskActivity]:
    """The agent's tasks created in [start, end), oldest first, with the tools their turns
    called (only the `newest` ones when given). `user_id`: one user's, None for tasks of no
    user (heartbeats), or `ALL_USERS`."""
    stmt = select(Task).where(_agent_tasks(agent_id, start, end, user_id))
    if newest is None:
        tasks = list((await db.scalars(stmt.order_by(Task.created_at, Task.id))).all())
    else:
        latest = stmt.order_by(Task.created_at.desc(), Task.id.desc()).limit(newest)
        tasks = list((await db.scalars(latest)).all())[::-1]
    tools = await _tools_of(db, [t.id for t in tasks])
    return [
        TaskActivity(
            id=t.id,
            kind=t.kind,
            status=t.status,
            description=t.description,
            session_id=t.session_id,
            user_id=t.user_id,
            created_at=t.created_at,
            finished_at=t.finished_at,
            error=t.error,
            tokens=t.input_tokens + t.output_tokens,
            tools=tools.get(t.id, []),
        )
        for t in tasks
    ]


async def _tools_of(db: AsyncSession, task_ids: list[str]) -> dict[str, list[ToolUse]]:
    used: dict[str, list[ToolUse]] = defaultdict(list)
    for task_id, calls in await chat.tool_calls_of(db, task_ids):
        for call in calls:
            used[task_id].append(ToolUse(str(call.get("name", "?")), str(call.get("status", "?"))))
    return used


async def exchange_of_task(db: AsyncSession, task_id: str) -> list[tuple[str, str, str]]:
    """The user message a task answered and the assistant's replies, in order, as
    (role, content, message id); tool traffic left out."""
    task = await db.get(Task, task_id)
    if task is None:
        return []
    return await chat.exchange(db, task_id, task.message_id)
