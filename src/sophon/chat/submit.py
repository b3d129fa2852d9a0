"""Accepting a chat message: the message stored before the answer, the turn queued as a task.
A message to a session is four statements, written with cached Core statements
(`chat.writes`, `tasks.turns.queue_turn`), one more with an idempotency key. HTTP-free."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit.marks import exempt
from sophon.chat import writes
from sophon.chat.models import TITLE_CHARS
from sophon.chat.schemas import ChatAccepted, ChatIn
from sophon.documents import service as documents
from sophon.documents.access import Reader
from sophon.ops import service as ops
from sophon.platform import idempotency
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.tasks import turns as task_turns


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
    pipeline waits for them up to `attachment_wait_seconds`. The rows are written with cached
    Core statements (`chat.writes`, `tasks.turns.queue_turn`): four statements for a message to a
    session, one more with an idempotency key."""
    await ops.refuse_new_work(db)
    claim = None
    if idempotency_key is not None:
        body_hash = idempotency.request_hash(body.model_dump(mode="json"))
        claim = idempotency.Claim(principal.rate_key, "chat", idempotency_key, body_hash)
    now = utcnow()
    if body.session_id is None:
        accepted = _accepted(new_id("sess"))
        if claim is not None and (first := await claim.take(db, 202, _dump(accepted))):
            return ChatAccepted.model_validate(first)
        agent_id = await _new_session(db, principal, body, accepted.session_id, now)
    else:
        try:
            agent_id = await _touch_session(db, principal, body, now)
        except (NotFound, Conflict):
            if claim is not None and (first := await claim.replay(db)):
                return ChatAccepted.model_validate(first)
            raise
        # made while the session is locked, so the turns of its messages run in their order
        accepted = _accepted(body.session_id)
        if claim is not None and (first := await claim.take(db, 202, _dump(accepted))):
            await db.rollback()  # a retry: it counts no message
            return ChatAccepted.model_validate(first)
    attachments, document_ids = _attachments(body.attachments)
    attached = (
        await documents.for_turn(db, Reader.of(principal), document_ids) if document_ids else []
    )
    if attached:
        names = {d.id: d.name for d in attached}
        attachments = [
            {**item, "name": names[item["documentId"]]} if item.get("documentId") in names else item
            for item in attachments
        ]
    user_message = writes.message_row(
        accepted.message_id, accepted.session_id, "user", body.content, now, attachments=attachments
    )
    await writes.insert_message(db, user_message)
    hold = documents.still_processing(attached) and attachment_wait_seconds > 0
    await task_turns.queue_turn(
        db,
        task_id=accepted.task_id,
        user_id=principal.user_id,
        agent_id=agent_id,
        session_id=accepted.session_id,
        message_id=accepted.message_id,
        description=body.content,
        streaming=body.is_streaming,
        # a document still in its pipeline: the turn waits, queued (no worker held), until the
        # pipeline ends it (which brings the turn forward) or the wait is over
        run_after=now + timedelta(seconds=attachment_wait_seconds) if hold else None,
    )
    if attached:
        documents.attach_to_turn(db, accepted.task_id, attached)
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


def _accepted(session_id: str) -> ChatAccepted:
    return ChatAccepted(task_id=new_id("task"), session_id=session_id, message_id=new_id("msg"))


def _dump(accepted: ChatAccepted) -> dict[str, Any]:
    return accepted.model_dump(mode="json", by_alias=True)


async def _touch_session(
    db: AsyncSession, principal: Principal, body: ChatIn, now: datetime
) -> str:
    """The agent of the session the message goes to, the session counted one message more and
    locked; 404/409 when the message may not go there."""
    session_id = str(body.session_id)
    found = await writes.touch_session(db, session_id, principal.user_id, now)
    if found is None:
        raise NotFound("No such session.", {"sessionId": session_id})
    agent_id, agent_live = found
    named = body.agent_id
    if named and named != agent_id and ((await agents.by_id_or_name(db, named)).id != agent_id):
        raise Conflict(
            "This session belongs to another agent; start a new session to switch.",
            {"sessionId": session_id, "agentId": agent_id},
        )
    if not agent_live:  # a deleted agent's session is read-only
        raise NotFound("No such agent.", {"agentId": agent_id})
    return agent_id


async def _new_session(
    db: AsyncSession, principal: Principal, body: ChatIn, session_id: str, now: datetime
) -> str:
    """A new session of the named (or the default) agent, its first message counted."""
    if body.agent_id:
        agent = await agents.by_id_or_name(db, body.agent_id)
    else:
        found = await agents.default_agent(db)
        if found is None:
            raise NotFound("This tenant has no default agent; name one with agentId.")
        agent = found
    await writes.insert_session(
        db,
        {
            "id": session_id,
            "user_id": principal.user_id,
            "agent_id": agent.id,
            "kind": "chat",
            "title": _title(body.content),
            "channel_id": body.channel_id,
            "archived": False,
            "message_count": 1,
            "tokens_used": 0,
            "last_message_at": now,
            "created_at": now,
            "updated_at": now,
        },
    )
    return agent.id


def _title(content: str) -> str:
    line = content.strip().splitlines()[0] if content.strip() else "New chat"
    return line[:TITLE_CHARS]
