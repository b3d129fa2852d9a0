"""Wire models of chat and sessions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

MAX_CONTENT_CHARS = 32_000
MAX_ATTACHMENTS = 10

Role = Literal["user", "assistant", "tool", "system"]


class ChatIn(RequestModel):
    agent_id: str | None = Field(
        None, description="The agent's id or its name; absent: the tenant's default agent."
    )
    session_id: str | None = None
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    attachments: list[str | dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="Document ids (`doc_…`, or `{documentId}` objects): each document is put "
        "in the turn's context.",
    )
    channel_id: str | None = Field(default=None, max_length=100)
    is_streaming: bool = True


class ChatAccepted(ApiModel):
    task_id: str
    session_id: str
    message_id: str


class ToolCallOut(ApiModel):
    id: str
    name: str
    arguments: dict[str, Any]
    result: str | None = None
    status: str
    risk_level: str
    approval_id: str | None = None


class MessageOut(ApiModel):
    id: str
    session_id: str
    role: Role
    content: str
    tool_calls: list[ToolCallOut]
    tool_call_id: str | None = None
    task_id: str | None = None
    tokens: int
    attachments: list[dict[str, Any]]
    created_at: Timestamp


class SessionOut(ApiModel):
    id: str
    title: str
    agent_id: str
    agent_deleted: bool
    user_id: str | None
    kind: str
    channel_id: str | None
    parent_session_id: str | None
    forked_from_message_id: str | None
    message_count: int
    last_message_at: Timestamp | None
    tokens_used: int
    archived: bool
    created_at: Timestamp
    updated_at: Timestamp


class SessionPatchIn(RequestModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    archived: bool | None = None


class ForkIn(RequestModel):
    from_message_id: str | None = None
