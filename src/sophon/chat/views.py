"""Sessions and messages as wire models."""

from __future__ import annotations

from typing import Any

from sophon.chat.models import ChatSession, Message
from sophon.chat.schemas import MessageOut, SessionOut, ToolCallOut


def session_out(session: ChatSession, agent_deleted: bool = False) -> SessionOut:
    return SessionOut(
        id=session.id,
        title=session.title,
        agent_id=session.agent_id,
        agent_deleted=agent_deleted,
        user_id=session.user_id,
        kind=session.kind,
        channel_id=session.channel_id,
        parent_session_id=session.parent_session_id,
        forked_from_message_id=session.forked_from_message_id,
        message_count=session.message_count,
        last_message_at=session.last_message_at,
        tokens_used=session.tokens_used,
        archived=session.archived,
        created_at=session.created_at,
        updated_at=session.updated_at,
    )


def tool_call_out(entry: dict[str, Any]) -> ToolCallOut:
    arguments = entry.get("arguments")
    return ToolCallOut(
        id=str(entry["id"]),
        name=str(entry["name"]),
        arguments=arguments if isinstance(arguments, dict) else {},
        result=entry.get("result"),
        status=str(entry.get("status", "pending")),
        risk_level=str(entry.get("riskLevel", "None")),
        approval_id=entry.get("approvalId"),
    )


def message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        session_id=message.session_id,
        role=message.role,
        content=message.content,
        tool_calls=[tool_call_out(entry) for entry in message.tool_calls],
        tool_call_id=message.tool_call_id,
        task_id=message.task_id,
        tokens=message.tokens,
        attachments=message.attachments,
        created_at=message.created_at,
    )
