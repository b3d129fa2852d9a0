"""`/hubs/chat`: send a message, join or leave a session group; a turn's events go to the
connections in its session group whose user may see the session."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sophon.platform.events import Event, EventName
from sophon.platform.permissions import Permission
from sophon.platform.throttle import RateCategory
from sophon.realtime.connection import Connection
from sophon.realtime.hub import Hub, hub_method
from sophon.realtime.hubs.args import json_object, text_id

CHAT_EVENTS = frozenset(
    name.value
    for name in (
        EventName.TASK_QUEUED,
        EventName.TASK_STARTED,
        EventName.AGENT_STATUS,
        EventName.STREAM_CHUNK,
        EventName.TOOL_CALL_STARTED,
        EventName.TOOL_CALL_COMPLETED,
        EventName.RECEIVE_MESSAGE,
        EventName.TASK_COMPLETED,
        EventName.TASK_FAILED,
        EventName.TASK_CANCELLED,
        EventName.APPROVAL_REQUESTED,
        EventName.APPROVAL_RESOLVED,
    )
)


class ChatHub(Hub):
    name = "chat"
    forwards = CHAT_EVENTS
    requires = (Permission.USE_CHAT,)

    def recipients(self, event: Event) -> Iterable[Connection]:
        session_id = event.audience.session_id or event.payload.get("sessionId")
        if event.tenant_id is None or not isinstance(session_id, str):
            return ()
        group = self.registry.group(event.tenant_id, session_id)
        return [c for c in group if event.visible_to(c.viewer())]

    @hub_method("SendMessage")
    async def send_message(self, conn: Connection, body: Any) -> dict[str, Any]:
        """As `POST /api/chat`; the caller joins the session's group before any event of it."""
        from sophon.chat import service as chat  # the chat domain loads after start-up
        from sophon.chat.schemas import ChatIn

        request = ChatIn.model_validate(json_object(body, "message"))
        await self.limit(conn, RateCategory.CHAT)
        async with self.transaction(conn) as db:
            accepted = await chat.submit_chat(db, conn.principal, request, None)
            conn.join(accepted.session_id)  # before the commit releases the turn's events
        return accepted.model_dump(mode="json", by_alias=True)

    @hub_method("JoinSession")
    async def join_session(self, conn: Connection, session_id: Any) -> None:
        from sophon.chat import service as chat

        wanted = text_id(session_id, "sessionId")
        async with self.transaction(conn, readonly=True) as db:
            await chat.get_session(db, conn.principal, wanted)  # NotFound unless visible
        conn.join(wanted)

    @hub_method("LeaveSession")
    async def leave_session(self, conn: Connection, session_id: Any) -> None:
        conn.leave(text_id(session_id, "sessionId"))
