"""A turn's answer written to its session without the ORM: the statements are built once (so
SQLAlchemy compiles them once per dialect), run on the transaction's connection (no flush, no
identity map) and name the tenant themselves, as every statement on a tenant table must."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit.marks import exempt
from sophon.chat.models import ChatSession, Message
from sophon.platform.ids import new_id

_COUNT = (
    update(ChatSession)
    .where(ChatSession.id == bindparam("b_session"), ChatSession.tenant_id == bindparam("b_tenant"))
    .values(
        message_count=ChatSession.message_count + 1,
        tokens_used=ChatSession.tokens_used + bindparam("b_tokens"),
        last_message_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
    )
)
_APPEND = insert(Message)


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
    connection = await db.connection()
    counted = cast(
        CursorResult[Any],
        await connection.execute(
            _COUNT,
            {"b_session": session_id, "b_tenant": tenant_id, "b_tokens": session_tokens,
             "b_now": now},
        ),
    )  # fmt: skip
    if counted.rowcount == 0:
        return None
    message_id = new_id("msg")
    row: dict[str, object] = {
        "id": message_id,
        "tenant_id": tenant_id,
        "session_id": session_id,
        "task_id": task_id,
        "role": "assistant",
        "content": content,
        "tool_calls": [],
        "tool_call_id": None,
        "tokens": tokens,
        "attachments": [],
        "meta": {},
        "created_at": now,
    }
    await connection.execute(_APPEND, row)
    return message_id
