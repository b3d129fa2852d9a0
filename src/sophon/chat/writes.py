"""The rows a chat turn writes (the session, the user's message, the assistant's answer), as
cached Core statements run on the transaction's connection: built once, compiled once per
dialect, no ORM unit of work (flush, identity map, events) for rows never read back. The tenant
is stamped and filtered explicitly, as the ORM's tenant filter does for ORM statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents.models import Agent
from sophon.audit.marks import exempt
from sophon.chat.models import ChatSession, Message
from sophon.platform import prepared
from sophon.platform.ids import new_id
from sophon.platform.tenancy import CrossTenantWrite, session_tenant

_SESSIONS = cast(Table, ChatSession.__table__)
_AGENTS = cast(Table, Agent.__table__)

_AGENT_LIVE = exists().where(
    _AGENTS.c.id == _SESSIONS.c.agent_id,
    _AGENTS.c.tenant_id == bindparam("in_tenant"),
    _AGENTS.c.deleted_at.is_(None),
)
_TOUCH = (
    update(_SESSIONS)
    .where(
        _SESSIONS.c.id == bindparam("session"),
        _SESSIONS.c.user_id.is_not_distinct_from(bindparam("owner")),
        _SESSIONS.c.tenant_id == bindparam("in_tenant"),
    )
    .values(
        message_count=_SESSIONS.c.message_count + 1,
        last_message_at=bindparam("now"),
        updated_at=bindparam("now"),
        archived=False,
    )
    .returning(_SESSIONS.c.agent_id, _AGENT_LIVE)
)
_COUNT_ANSWER = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session"), _SESSIONS.c.tenant_id == bindparam("in_tenant"))
    .values(
        message_count=_SESSIONS.c.message_count + 1,
        tokens_used=_SESSIONS.c.tokens_used + bindparam("tokens"),
        last_message_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_MESSAGE = insert(cast(Table, Message.__table__))


def _tenant(db: AsyncSession) -> str:
    tenant = session_tenant(db.sync_session)
    if tenant is None:
        raise CrossTenantWrite("A chat message written outside a tenant")
    return tenant


async def touch_session(
    db: AsyncSession, session_id: str, user_id: str | None, now: datetime
) -> tuple[str, bool] | None:
    """Counts one message more in the user's session (and unarchives it), locking its row for
    the rest of the transaction; returns its agent's id and whether that agent is live, or None
    when the user has no such session. One statement: the read, the lock and the write."""
    values = {"session": session_id, "owner": user_id, "in_tenant": _tenant(db), "now": now}
    row = (await prepared.run(db, _TOUCH, values)).first()
    return None if row is None else (str(row[0]), bool(row[1]))


async def insert_session(db: AsyncSession, row: dict[str, Any]) -> None:
    """A new session (`row`: its columns; the tenant is the session's)."""
    await prepared.run(db, _INSERT_SESSION, {**row, "tenant_id": _tenant(db)})


def message_row(
    message_id: str, session_id: str, role: str, content: str, now: datetime, **columns: Any
) -> dict[str, Any]:
    """A message's columns, the ones not given at their defaults (`task_id`, `tokens`,
    `attachments`, ...)."""
    return {"id": message_id, "session_id": session_id, "task_id": None, "role": role,
            "content": content, "tool_calls": [], "tool_call_id": None, "tokens": 0,
            "attachments": [], "meta": {}, "created_at": now, **columns}  # fmt: skip


async def insert_message(db: AsyncSession, row: dict[str, Any]) -> None:
    """A new message (`row`: its columns; the tenant is the session's)."""
    await prepared.run(db, _INSERT_MESSAGE, {**row, "tenant_id": _tenant(db)})


@exempt("a turn's answer, part of the task that is its ledger entry")
async def append_answer(
    db: AsyncSession,
    *,
    tenant_id: str,
    session_id: str,
    task_id: str,
    content: str,
    tokens: int,
    session_tokens: int,
    now: datetime,
) -> str | None:
    """Appends the assistant's answer to the session and adds `session_tokens` to its count, as
    `append_message` and `add_tokens` do; the message's id, or None when the session is gone
    (nothing written then). The session's row is written first, so it is locked from here on."""
    values = {"session": session_id, "in_tenant": tenant_id, "tokens": session_tokens, "now": now}
    if (await prepared.run(db, _COUNT_ANSWER, values)).rowcount == 0:
        return None
    message_id = new_id("msg")
    row = message_row(message_id, session_id, "assistant", content, now, task_id=task_id,
                      tokens=tokens)  # fmt: skip
    await prepared.run(db, _INSERT_MESSAGE, {**row, "tenant_id": tenant_id})
    return message_id
