"""What a turn reads of its session on every step: the messages since the latest compaction, and
whether the session was answered before (its first turn reads BOOT.md). Core statements built
once, on the session's connection: the ORM's loading would cost more than the queries."""

from __future__ import annotations

import json
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import (
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.chat.models import Message
from sophon.platform import prepared
from sophon.platform.tenancy import session_tenant

HISTORY_COLUMNS = (
    Message.id,
    Message.role,
    Message.content,
    Message.tool_calls,
    Message.tool_call_id,
    Message.meta,
)
"""A message as a turn's prompt reads it (`runtime.history.Past`)."""
MESSAGES = cast(Table, Message.__table__)


_JSON = frozenset({"tool_calls", "meta"})
_EMPTY: dict[str, type[list[Any]] | type[dict[str, Any]]] = {"[]": list, "{}": dict}


def parsed(value: Any) -> Any:
    """A JSON column as `turn_history` reads it (text): almost every message's is `[]` or `{}`,
    which are made without parsing."""
    if not isinstance(value, str):
        return value  # NULL, or a value the driver decoded itself
    empty = _EMPTY.get(value)
    return empty() if empty is not None else json.loads(value)


def _history_statement(answering: bool) -> Select[Any]:
    """`turn_history`'s one statement, built once: Core, with the tenant, the session, the task,
    the message it answers and the first message wanted whole as bound parameters."""
    m = MESSAGES.c

    def of_session(stmt: Select[Any]) -> Select[Any]:
        return stmt.where(m.tenant_id == bindparam("tenant"), m.session_id == bindparam("session"))

    def visible(stmt: Select[Any]) -> Select[Any]:  # as `_turn_visible`, tenant explicit
        stmt = of_session(stmt)
        if answering:
            stmt = stmt.where(or_(m.id <= bindparam("message"), m.task_id == bindparam("task")))
        return stmt

    compaction = case((m.meta["compaction"].as_boolean(), m.meta["through"].as_string()), else_="")
    latest = (
        visible(select(compaction.label("through")))
        .where(m.role == "system")
        .order_by(m.id.desc())
        .limit(1)
        .cte("compaction")
    )
    through = select(latest.c.through).scalar_subquery()
    since = m.id > func.coalesce(through, "")
    before = m.id < bindparam("after")
    counted = of_session(select(func.count())).where(since, before).correlate(None)
    changing = and_(m.role == "assistant", sa.cast(m.tool_calls, Text) != "[]")
    columns = [
        type_coerce(m[c.key], Text).label(c.key) if c.key in _JSON else m[c.key]
        for c in HISTORY_COLUMNS
    ]
    return (
        visible(select(*columns, counted.scalar_subquery().label("before")))
        .where(since, or_(~before, changing))
        .order_by(m.id)
    )


_HISTORY = {answering: _history_statement(answering) for answering in (False, True)}


async def turn_history(
    db: AsyncSession, session_id: str, task_id: str, message_id: str | None, after: str = ""
) -> tuple[list[tuple[Any, ...]], int]:
    """What a turn answering `message_id` sees of its session, from the latest compaction
    summary on (the summary included), in order, as rows of `HISTORY_COLUMNS` with the JSON
    columns as text (`parsed`): a long session's older, summarised messages stay in the
    database. Of the messages before `after` only those a later write may still change (an
    assistant's tool calls, `set_tool_calls`) are read, and how many there are in all: a caller
    that kept the others checks with it that none came or went. One Core statement on the
    session's connection (the ORM's loading would cost more than the query)."""
    tenant = session_tenant(db.sync_session)
    if tenant is None:
        return [], 0
    values = {"tenant": tenant, "session": session_id, "task": task_id, "message": message_id,
              "after": after}  # fmt: skip
    rows = (await prepared.run(db, _HISTORY[bool(message_id)], values)).all()
    return [tuple(row[:-1]) for row in rows], rows[0][-1] if rows else 0


_ANSWERED = (
    select(MESSAGES.c.id)
    .where(
        MESSAGES.c.tenant_id == bindparam("tenant"),
        MESSAGES.c.session_id == bindparam("session"),
        MESSAGES.c.role == "assistant",
        MESSAGES.c.task_id != bindparam("task"),
    )
    .limit(1)
)


async def answered_before(db: AsyncSession, session_id: str, task_id: str) -> bool:
    """Whether another task already answered in the session (not the session's first turn)."""
    values = {"tenant": session_tenant(db.sync_session), "session": session_id, "task": task_id}
    earlier = (await prepared.run(db, _ANSWERED, values)).first()
    return earlier is not None
