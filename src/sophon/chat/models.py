"""Tables of the chat domain: sessions (conversations) and their messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped

TITLE_CHARS = 80


class ChatSession(Base, TenantScoped, Timestamped):
    """One conversation of one user with one agent. `kind` is `chat` or `heartbeat`; a fork
    points at its parent and at the message it was cut after."""

    __tablename__ = "chat_sessions"
    __table_args__ = (
        Index("ix_chat_sessions_owner", "tenant_id", "user_id", "archived", "id"),
        Index("ix_chat_sessions_agent", "agent_id"),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="chat")
    title: Mapped[str] = mapped_column(String(200), default="")
    channel_id: Mapped[str | None] = mapped_column(String(100))
    parent_session_id: Mapped[str | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="SET NULL")
    )
    forked_from_message_id: Mapped[str | None] = mapped_column(String(40))
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None]


class Message(Base, TenantScoped):
    """One message. Ids are time-ordered, so `id` is the message order within a session.
    `tool_calls` (assistant) holds each call with its outcome; a `tool` message answers one call
    (`tool_call_id`). `meta` marks special messages (e.g. `{"compaction": true}`)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_session", "session_id", "id"),
        Index("ix_messages_task", "task_id"),  # a task's messages (daily logs, memory extraction)
    )

    id: Mapped[str] = id_column()
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(40), index=True)
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text, default="")
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tool_call_id: Mapped[str | None] = mapped_column(String(100))
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
