"""Chat: accept a message (stored before the answer, the turn queued as a task), and the
owner's sessions and their history: list, read, fork, archive, delete. HTTP-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.chat.models import ChatSession, Message
from sophon.chat.schemas import ChatAccepted, ChatIn, SessionPatchIn
from sophon.documents import service as documents
from sophon.documents.access import Reader
from sophon.ops import service as ops
from sophon.platform import idempotency
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.tasks import service as tasks
from sophon.tasks.models import Task

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


@exempt("a message is conversation, not administration; its task records the turn")
async def submit_chat(
    db: AsyncSession,
    principal: Principal,
    body: ChatIn,
    idempotency_key: str | None = None,
    attachment_wait_seconds: float = 0.0,
) -> ChatAccepted:
    """Stores the user message and queues the turn; returns at once. With an idempotency key a
    retry returns the first answer and stores nothing. A turn given documents still in their
    pipeline waits for them up to `attachment_wait_seconds`."""
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
    attachments, document_ids = _attachments(body.attachments)
    message = append_message(db, session, "user", body.content, attachments=attachments)
    attached = (
        await documents.for_turn(db, Reader.of(principal), document_ids) if document_ids else []
    )
    hold = documents.still_processing(attached) and attachment_wait_seconds > 0
    task = tasks.create(
        db,
        kind="chat",
        user_id=principal.user_id,
        agent_id=session.agent_id,
        session_id=session.id,
        message_id=message.id,
        description=body.content,
        streaming=body.is_streaming,
        # a document still in its pipeline: the turn waits, queued (no worker held), until the
        # pipeline ends it (which brings the turn forward) or the wait is over
        run_after=utcnow() + timedelta(seconds=attachment_wait_seconds) if hold else None,
    )
    if attached:
        documents.attach_to_turn(db, task.id, attached)
        names = {d.id: d.name for d in attached}
        message.attachments = [
            {**item, "name": names[item["documentId"]]} if item.get("documentId") in names else item
            for item in attachments
        ]
    accepted = ChatAccepted(task_id=task.id, session_id=session.id, message_id=message.id)
    if record is not None:
        idempotency.complete(record, 202, accepted.model_dump(mode="json", by_alias=True))
    return accepted


def _attachments(raw: list[str | dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Stored attachments (a document id becomes `{type: document, documentId}`) and the
    document ids among them."""
    stored: list[dict[str, Any]] = []
    ids: list[str] = []
    for item in raw:
        if isinstance(item, str):
            item = {"type": "document", "documentId": item}
        document_id = item.get("documentId")
        if isinstance(document_id, str):
            ids.append(document_id)
        stored.append(item)
    return stored, ids


async def _session_for(db: AsyncSession, principal: Principal, body: ChatIn) -> ChatSession:
    if body.session_id is not None:
        stmt = owned(principal).add_columns(agents.is_live(ChatSession.agent_id))
        row = (
            await db.execute(stmt.where(ChatSession.id == body.session_id).with_for_update())
        ).first()
        if row is None:
            raise NotFound("No such session.", {"sessionId": body.session_id})
        session: ChatSession = row[0]
        agent_live = bool(row[1])
        named = body.agent_id
        if (
            named
            and named != session.agent_id
            and ((await agents.by_id_or_name(db, named)).id != session.agent_id)
        ):
            raise Conflict(
                "This session belongs to another agent; start a new session to switch.",
                {"sessionId": session.id, "agentId": session.agent_id},
            )
        if not agent_live:  # a deleted agent's session is read-only
            raise NotFound("No such agent.", {"agentId": session.agent_id})
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


def _title(content: str) -> str:
    line = content.strip().splitlines()[0] if content.strip() else "New chat"
    return line[:TITLE_CHARS]


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
