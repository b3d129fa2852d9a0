"""Wire models of the task ledger."""

from __future__ import annotations

from typing import Any

from sophon.chat.schemas import ToolCallOut
from sophon.platform.schemas import ApiModel, Timestamp


class TaskOut(ApiModel):
    id: str
    kind: str
    status: str
    session_id: str | None
    agent_id: str | None
    user_id: str | None
    description: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    duration_ms: int | None
    input_tokens: int
    output_tokens: int
    tokens_used: int
    error: str | None
    error_code: str | None
    parent_task_id: str | None


class TaskDetailOut(TaskOut):
    tool_calls: list[ToolCallOut]
    plan: dict[str, Any] | None
    log: list[dict[str, Any]]
    children: list[str]
