"""`/api/chat` and `/api/sessions`: send a message (the turn runs as a background task) and the
caller's own sessions with their history."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Response, status

from sophon.agents import service as agents
from sophon.chat import service as chat
from sophon.chat.models import ChatSession
from sophon.chat.schemas import (
    ChatAccepted,
    ChatIn,
    ForkIn,
    MessageOut,
    SessionOut,
    SessionPatchIn,
)
from sophon.chat.views import message_out, session_out
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses

chat_router = api_router("/chat", tags=["Chat"])
sessions_router = api_router("/sessions", tags=["Chat"])
use_chat = requires(P.USE_CHAT)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="A retry with the same key returns the first response and creates nothing.",
    ),
]


@chat_router.post(
    "",
    operation_id="sendMessage",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 503),
)
@requires(P.USE_CHAT, rate="chat")
async def send_message(
    body: ChatIn,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> ChatAccepted:
    """Stores the message and queues the agent's turn; returns at once. Without `sessionId` a
    new session is started with `agentId` (default: the tenant's default agent). Follow the
    turn on `/hubs/chat` or with `GET /api/tasks/{taskId}?wait=30`."""
    wait = gateway.settings.documents_attachment_wait_seconds
    return await chat.submit_chat(db, principal, body, idempotency_key, wait)


async def _out(db: DbDep, session: ChatSession) -> SessionOut:
    agent = await agents.get_any(db, session.agent_id)
    return session_out(session, agent_deleted=agent is None or agent.deleted_at is not None)


@sessions_router.get("", operation_id="listSessions")
@use_chat
async def list_sessions(
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    principal: PrincipalDep,
    agent_id: Annotated[str | None, Query(alias="agentId")] = None,
    channel_id: Annotated[str | None, Query(alias="channelId")] = None,
    archived: Annotated[bool | None, Query()] = None,
) -> Page[SessionOut]:
    """The caller's sessions, newest first."""
    where = chat.SessionFilter(agent_id=agent_id, channel_id=channel_id, archived=archived)
    rows, cursor, more = await gateway.paginator.page(
        db, chat.sessions(principal, where), [ChatSession.id], page,
        scope=f"sessions:{principal.user_id}",
    )  # fmt: skip
    deleted = await agents.deleted_ids(db, {s.agent_id for s in rows})
    items = [session_out(s, agent_deleted=s.agent_id in deleted) for s in rows]
    return Page[SessionOut](items=items, next_cursor=cursor, has_more=more)


@sessions_router.get("/{session_id}", operation_id="getSession", responses=error_responses(404))
@use_chat
async def get_session(session_id: str, db: DbDep, principal: PrincipalDep) -> SessionOut:
    return await _out(db, await chat.get_session(db, principal, session_id))


@sessions_router.patch(
    "/{session_id}", operation_id="updateSession", responses=error_responses(404)
)
@use_chat
async def update_session(
    session_id: str, body: SessionPatchIn, db: DbDep, principal: PrincipalDep
) -> SessionOut:
    """Renames or (un)archives a session."""
    return await _out(db, await chat.update_session(db, principal, session_id, body))


@sessions_router.get(
    "/{session_id}/messages", operation_id="listMessages", responses=error_responses(404)
)
@use_chat
async def list_messages(
    session_id: str,
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    principal: PrincipalDep,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
) -> Page[MessageOut]:
    """The session's messages, oldest first (`order=desc` for newest first)."""
    session = await chat.get_session(db, principal, session_id)
    return await page_of(
        gateway.paginator, db, chat.history(session.id), page, f"messages:{session.id}:{order}",
        message_out, descending=order == "desc",
    )  # fmt: skip


@sessions_router.post(
    "/{session_id}/fork",
    operation_id="forkSession",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404),
)
@use_chat
async def fork_session(
    session_id: str, db: DbDep, principal: PrincipalDep, body: ForkIn | None = None
) -> SessionOut:
    """A new session holding the history up to `fromMessageId` (default: all of it), linked to
    this one as its parent."""
    from_message = body.from_message_id if body is not None else None
    return await _out(db, await chat.fork(db, principal, session_id, from_message))


@sessions_router.delete(
    "/{session_id}",
    operation_id="deleteSession",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404),
)
@use_chat
async def delete_session(session_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes the session and its messages; its running task is cancelled."""
    await chat.delete_session(db, principal, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
