"""What a turn reads of its session on every step: the messages since the latest compaction, and
whether the session was answered before (its first turn reads BOOT.md). Core statements built
once, on the session's connection: the ORM's loading would cost more than the queries."""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import Select, Table, Text, bindparam, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.chat.models import Message
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


def _parsed(value: Any) -> Any:
    """A JSON column read as text: almost every message's is `[]` or `{}`, which are made
    without parsing (a long session's history would otherwise parse hundreds per turn)."""
    if not isinstance(value, str):
        return value  # NULL, or a value the driver decoded itself
    empty = _EMPTY.get(value)
    return empty() if empty is not None else json.loads(value)


def _history_statement(answering: bool) -> Select[Any]:
    """`turn_history`'s one statement, built once: Core, with the tenant, the session, the task
    and the message it answers as bound parameters."""
    m = MESSAGES.c

    def visible(stmt: Select[Any]) -> Select[Any]:  # as `_turn_visible`, tenant explicit
        stmt = stmt.where(m.tenant_id == bindparam("tenant"), m.session_id == bindparam("session"))
        if answering:
            stmt = stmt.where(or_(m.id <= bindparam("message"), m.task_id == bindparam("task")))
        return stmt

    compaction = case((m.meta["compaction"].as_boolean(), m.meta["through"].as_string()), else_="")
    through = (
        visible(select(compaction))
        .where(m.role == "system")
        .order_by(m.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    columns = [
        type_coerce(m[c.key], Text).label(c.key) if c.key in _JSON else m[c.key]
        for c in HISTORY_COLUMNS
    ]
    return visible(select(*columns)).where(m.id > func.coalesce(through, "")).order_by(m.id)


_HISTORY = {answering: _history_statement(answering) for answering in (False, True)}


async def turn_history(
    db: AsyncSession, session_id: str, task_id: str, message_id: str | None
) -> list[tuple[Any, ...]]:
    """What a turn answering `message_id` sees of its session, from the latest compaction
    summary on (the summary included), in order, as rows of `HISTORY_COLUMNS`: a long
    session's older, summarised messages stay in the database. One Core statement on the
    session's connection (the ORM's loading would cost more than the query)."""
    tenant = session_tenant(db.sync_session)
    if tenant is None:
        return []
    values = {"tenant": tenant, "session": session_id, "task": task_id, "message": message_id}
    connection = await db.connection()
    rows = await connection.execute(_HISTORY[bool(message_id)], values)
    return [
        (id_, role, content, _parsed(tool_calls), tool_call_id, _parsed(meta))
        for id_, role, content, tool_calls, tool_call_id, meta in rows
    ]


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
    earlier = (await (await db.connection()).execute(_ANSWERED, values)).first()
    return earlier is not None
