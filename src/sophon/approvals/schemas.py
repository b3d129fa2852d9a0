"""Wire models of approvals."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp


class ApprovalOut(ApiModel):
    id: str
    kind: str
    status: str
    tool_name: str
    risk_level: str
    arguments: dict[str, Any]
    approved_arguments: dict[str, Any] | None
    editable: bool
    preview: str
    requester_id: str | None
    agent_id: str | None
    session_id: str | None
    task_id: str | None
    reason: str | None
    decided_by: str | None
    decided_at: Timestamp | None
    expires_at: Timestamp
    created_at: Timestamp


class RejectIn(RequestModel):
    reason: str | None = Field(default=None, max_length=2000)


class EditIn(RequestModel):
    arguments: dict[str, Any]
