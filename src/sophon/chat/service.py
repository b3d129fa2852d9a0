"""Chat: accept a message (stored before the answer, the turn queued as a task), and the
owner's sessions and their history: list, read, fork, archive, delete. HTTP-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.chat.models import TITLE_CHARS, ChatSession, Message
from sophon.chat.schemas import SessionPatchIn
from sophon.chat.submit import submit_chat as submit_chat  # where callers send a message
from sophon.platform.clock import utcnow
from sophon.platform.errors import NotFound
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.tasks import service as tasks
from sophon.tasks.models import Task


def owned(principal: Principal) -> Select[ChatSession]:
    """Sessions belong to their user: nobody else sees them, whatever their role."""
    return select(ChatSession).where(ChatSession.user_id == principal.user_id)


async def get_session(
    db: AsyncSession, principal: Principal, session_id: str, *, for_update: bool = False
) -> ChatSession:
    stmt = owned(principal).where(ChatSession.id == session_id)
    session = await db.scalar(stmt.with_for_update() if for_update else stmt)
    if session is None:
        raise NotFound("No such session.", {"sessionId": session_id})
    return session


@dataclass(frozen=True)
class SessionFilter:
    agent_id: str | None = None
    channel_id: str | None = None
    archived: bool | None = None


def sessions(principal: Principal, where: SessionFilter) -> Select[ChatSession]:
    stmt = owned(principal)
    if where.agent_id:
        stmt = stmt.where(ChatSession.agent_id == where.agent_id)
    if where.channel_id:
        stmt = stmt.where(ChatSession.channel_id == where.channel_id)
    if where.archived is not None:
        stmt = stmt.where(ChatSession.archived.is_(where.archived))
    return stmt


def history(session_id: str) -> Select[Message]:
    return select(Message).where(Message.session_id == session_id)


@exempt("part of a chat message or a heartbeat run")
def new_session(
    db: AsyncSession, *, user_id: str | None, agent_id: str, kind: str, title: str
) -> ChatSession:
    session = ChatSession(
        id=new_id("sess"),
        user_id=user_id,
        agent_id=agent_id,
        kind=kind,
        title=title[:TITLE_CHARS],
        message_count=0,
        tokens_used=0,
        archived=False,
    )
    db.add(session)
    return session


@exempt("conversation content: the stored message is its own record")
def append_message(
    db: AsyncSession,
    session: ChatSession,
    role: str,
    content: str,
    *,
    task_id: str | None = None,
    tool_calls: list[dict[str, object]] | None = None,
    tool_call_id: str | None = None,
    tokens: int = 0,
    attachments: list[dict[str, object]] | None = None,
    meta: dict[str, object] | None = None,
) -> Message:
    now = utcnow()
    message = Message(
        id=new_id("msg"),
        session_id=session.id,
        task_id=task_id,
        role=role,
        content=content,
        tool_calls=list(tool_calls or []),
        tool_call_id=tool_call_id,
        tokens=tokens,
        attachments=list(attachments or []),
        meta=dict(meta or {}),
        created_at=now,
    )
    db.add(message)
    session.message_count += 1
    session.last_message_at = now
    return message


@exempt("renaming or archiving one's own conversation")
async def update_session(
    db: AsyncSession, principal: Principal, session_id: str, body: SessionPatchIn
) -> ChatSession:
    session = await get_session(db, principal, session_id, for_update=True)
    if body.title is not None:
        session.title = body.title.strip()
    if body.archived is not None:
        session.archived = body.archived
    return session


@audited("session.fork")
async def fork(
    db: AsyncSession, principal: Principal, session_id: str, from_message_id: str | None
) -> ChatSession:
    """A new session with the history up to and including `from_message_id` (default: all),
    linked to its parent."""
    parent = await get_session(db, principal, session_id)
    stmt = history(parent.id)
    if from_message_id is not None:
        cut = await db.scalar(stmt.where(Message.id == from_message_id))
        if cut is None:
            raise NotFound("No such message in this session.", {"messageId": from_message_id})
        stmt = stmt.where(Message.id <= from_message_id)
    copied = (await db.scalars(stmt.order_by(Message.id))).all()
    child = new_session(
        db,
        user_id=principal.user_id,
        agent_id=parent.agent_id,
        kind=parent.kind,
        title=f"{parent.title} (fork)",
    )
    child.parent_session_id = parent.id
    child.channel_id = parent.channel_id
    child.forked_from_message_id = copied[-1].id if copied else None
    for original in copied:
        append_message(
            db,
            child,
            original.role,
            original.content,
            tool_calls=original.tool_calls,
            tool_call_id=original.tool_call_id,
            tokens=original.tokens,
            attachments=original.attachments,
            meta={**original.meta, "forkedFrom": original.id},
        )
    child.last_message_at = copied[-1].created_at if copied else None
    await audit.record(
        db,
        principal,
        "session.fork",
        ("chat_session", child.id),
        details={"parentSessionId": parent.id, "messages": len(copied)},
    )
    return child


@audited("session.delete")
async def delete_session(db: AsyncSession, principal: Principal, session_id: str) -> list[Task]:
    """Deletes the session and its messages; its queued or running tasks are cancelled (they
    are returned so the caller can report them)."""
    session = await get_session(db, principal, session_id, for_update=True)
    running = await tasks.active_in_session(db, session.id)
    for task in running:
        await tasks.cancel(db, principal, task.id)
    await db.execute(
        update(ChatSession)
        .where(ChatSession.parent_session_id == session.id)
        .values(parent_session_id=None)
    )
    await db.delete(session)
    await audit.record(
        db,
        principal,
        "session.delete",
        ("chat_session", session.id),
        details={"cancelledTasks": [t.id for t in running]},
    )
    return running


async def lock_session(db: AsyncSession, session_id: str) -> ChatSession | None:
    """The session, locked for update (None once deleted), for a turn writing to it."""
    return await db.get(ChatSession, session_id, with_for_update=True)


@exempt("usage counters of a turn")
def add_tokens(session: ChatSession, tokens: int) -> None:
    session.tokens_used += tokens


@exempt("a turn recording the progress of its own tool calls")
def set_tool_calls(message: Message, entries: list[dict[str, Any]]) -> None:
    message.tool_calls = entries


@exempt("a heartbeat run with nothing to report archives its own session")
def archive(session: ChatSession) -> None:
    session.archived = True


async def get_session_any(db: AsyncSession, session_id: str) -> ChatSession | None:
    """The session whoever owns it (a turn's, read by the runtime); None once deleted."""
    return await db.get(ChatSession, session_id)


async def get_message(
    db: AsyncSession, message_id: str, *, for_update: bool = False
) -> Message | None:
    """One message by id, whoever owns it (a turn reading or updating its own messages)."""
    return await db.get(Message, message_id, with_for_update=for_update)


async def task_messages(db: AsyncSession, session_id: str, task_id: str) -> list[Message]:
    """The messages a task wrote to its session, in order."""
    stmt = (
        select(Message)
        .where(Message.session_id == session_id, Message.task_id == task_id)
        .order_by(Message.id)
    )
    return list((await db.scalars(stmt)).all())


def _turn_visible(
    stmt: Select[Any], session_id: str, task_id: str, message_id: str | None
) -> Select[Any]:
    """`stmt` limited to the session up to the message a turn answers, plus the turn's own
    messages (messages sent meanwhile wait for their own turns)."""
    stmt = stmt.where(Message.session_id == session_id)
    if message_id:
        stmt = stmt.where(or_(Message.id <= message_id, Message.task_id == task_id))
    return stmt


async def tool_messages(db: AsyncSession, task_id: str) -> list[Message]:
    """The assistant messages of a task that carry tool calls, in order."""
    stmt = (
        select(Message)
        .where(Message.task_id == task_id, Message.role == "assistant")
        .order_by(Message.id)
    )
    return [m for m in (await db.scalars(stmt)).all() if m.tool_calls]


async def tool_calls_of(
    db: AsyncSession, task_ids: list[str]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(task id, tool-call entries) of each assistant message of the tasks."""
    if not task_ids:
        return []
    rows = await db.execute(
        select(Message.task_id, Message.tool_calls).where(
            Message.task_id.in_(task_ids), Message.role == "assistant"
        )
    )
    return [(str(task_id), list(calls or [])) for task_id, calls in rows.all()]


async def exchange(
    db: AsyncSession, task_id: str, message_id: str | None
) -> list[tuple[str, str, str]]:
    """The user message `message_id` and the task's non-empty user and assistant messages, in
    order, as (role, content, message id)."""
    stmt = select(Message.role, Message.content, Message.id).where(
        Message.role.in_(("user", "assistant")), Message.content != ""
    )
    if message_id:
        stmt = stmt.where((Message.task_id == task_id) | (Message.id == message_id))
    else:
        stmt = stmt.where(Message.task_id == task_id)
    rows = await db.execute(stmt.order_by(Message.id))
    return [(str(r), str(c), str(i)) for r, c, i in rows.all()]


async def exchange_after(
    db: AsyncSession, session_id: str, after_id: str | None, limit: int
) -> list[tuple[str, str, str, datetime]]:
    """The session's non-empty user and assistant messages after `after_id` (ids sort by time),
    oldest first, at most `limit`, as (role, content, message id, created at)."""
    stmt = select(Message.role, Message.content, Message.id, Message.created_at).where(
        Message.session_id == session_id,
        Message.role.in_(("user", "assistant")),
        Message.content != "",
    )
    if after_id is not None:
        stmt = stmt.where(Message.id > after_id)
    rows = await db.execute(stmt.order_by(Message.id).limit(limit))
    return [(str(r), str(c), str(i), at) for r, c, i, at in rows.all()]
