"""Chat: accept a message (stored before the answer, the turn queued as a task), and the
owner's sessions and their history: list, read, fork, archive, delete. HTTP-free."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.chat.models import ChatSession, Message
from sophon.chat.schemas import ChatAccepted, ChatIn, SessionPatchIn
from sophon.ops import service as ops
from sophon.platform import idempotency
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.tasks import service as tasks
from sophon.tasks.models import ACTIVE, Task

TITLE_CHARS = 80


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


async def submit_chat(
    db: AsyncSession,
    principal: Principal,
    body: ChatIn,
    idempotency_key: str | None = None,
) -> ChatAccepted:
    """Stores the user message and queues the turn; returns at once. With an idempotency key a
    retry returns the first answer and stores nothing."""
    await ops.refuse_new_work(db)
    record = None
    if idempotency_key is not None:
        claimed = await idempotency.claim(
            db,
            owner=principal.rate_key,
            scope="chat",
            key=idempotency_key,
            body_hash=idempotency.request_hash(body.model_dump(mode="json")),
        )
        if isinstance(claimed, dict):
            return ChatAccepted.model_validate(claimed)
        record = claimed
    session = await _session_for(db, principal, body)
    message = append_message(db, session, "user", body.content, attachments=body.attachments)
    task = tasks.create(
        db,
        kind="chat",
        user_id=principal.user_id,
        agent_id=session.agent_id,
        session_id=session.id,
        message_id=message.id,
        description=body.content,
        streaming=body.is_streaming,
    )
    accepted = ChatAccepted(task_id=task.id, session_id=session.id, message_id=message.id)
    if record is not None:
        idempotency.complete(record, 202, accepted.model_dump(mode="json", by_alias=True))
    return accepted


async def _session_for(db: AsyncSession, principal: Principal, body: ChatIn) -> ChatSession:
    if body.session_id is not None:
        session = await get_session(db, principal, body.session_id, for_update=True)
        if body.agent_id and (await agents.by_id_or_name(db, body.agent_id)).id != session.agent_id:
            raise Conflict(
                "This session belongs to another agent; start a new session to switch.",
                {"sessionId": session.id, "agentId": session.agent_id},
            )
        await agents.get(db, session.agent_id)  # a deleted agent's session is read-only
        session.archived = False
        return session
    if body.agent_id:
        agent = await agents.by_id_or_name(db, body.agent_id)
    else:
        found = await agents.default_agent(db)
        if found is None:
            raise NotFound("This tenant has no default agent; name one with agentId.")
        agent = found
    session = new_session(
        db, user_id=principal.user_id, agent_id=agent.id, kind="chat", title=_title(body.content)
    )
    session.channel_id = body.channel_id
    return session


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


def _title(content: str) -> str:
    line = content.strip().splitlines()[0] if content.strip() else "New chat"
    return line[:TITLE_CHARS]


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


async def update_session(
    db: AsyncSession, principal: Principal, session_id: str, body: SessionPatchIn
) -> ChatSession:
    session = await get_session(db, principal, session_id, for_update=True)
    if body.title is not None:
        session.title = body.title.strip()
    if body.archived is not None:
        session.archived = body.archived
    return session


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
    return child


async def delete_session(db: AsyncSession, principal: Principal, session_id: str) -> list[Task]:
    """Deletes the session and its messages; its queued or running tasks are cancelled (they
    are returned so the caller can report them)."""
    session = await get_session(db, principal, session_id, for_update=True)
    running = (
        await db.scalars(select(Task).where(Task.session_id == session.id, Task.status.in_(ACTIVE)))
    ).all()
    for task in running:
        await tasks.cancel(db, principal, task.id)
    await db.execute(
        update(ChatSession)
        .where(ChatSession.parent_session_id == session.id)
        .values(parent_session_id=None)
    )
    await db.delete(session)
    return list(running)
