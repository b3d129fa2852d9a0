"""The rows a chat message writes (its session, the message), as cached Core statements run on
the request's connection: built once, compiled once per dialect, no ORM unit of work (flush,
identity map, events) for rows the request never reads back. The tenant is stamped and filtered
explicitly, as the ORM's tenant filter does for ORM statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents.models import Agent
from sophon.chat.models import ChatSession, Message
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
    row = (await (await db.connection()).execute(_TOUCH, values)).first()
    return None if row is None else (str(row[0]), bool(row[1]))


async def insert_session(db: AsyncSession, row: dict[str, Any]) -> None:
    """A new session (`row`: its columns; the tenant is the session's)."""
    await (await db.connection()).execute(_INSERT_SESSION, {**row, "tenant_id": _tenant(db)})


async def insert_message(db: AsyncSession, row: dict[str, Any]) -> None:
    """A new message (`row`: its columns; the tenant is the session's)."""
    await (await db.connection()).execute(_INSERT_MESSAGE, {**row, "tenant_id": _tenant(db)})
