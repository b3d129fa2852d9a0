"""Approvals: a risky action waiting for a person's decision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, id_column
from sophon.platform.tenancy import TenantScoped


class ApprovalStatus(StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    EXPIRED = "Expired"


class Approval(Base, TenantScoped):
    """`kind` is `tool` (one call) or `plan` (a whole plan). `arguments` are as requested;
    `approved_arguments` what was approved (edited or not)."""

    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_status", "tenant_id", "status", "expires_at"),
        Index("ix_approvals_task", "task_id"),
    )

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(20), default="tool")
    status: Mapped[str] = mapped_column(String(20), default=ApprovalStatus.PENDING.value)
    task_id: Mapped[str | None] = mapped_column(String(40))
    session_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tool_call_id: Mapped[str | None] = mapped_column(String(100))
    tool_name: Mapped[str] = mapped_column(String(200))
    risk_level: Mapped[str] = mapped_column(String(20))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    approved_arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    editable: Mapped[bool] = mapped_column(Boolean, default=False)
    preview: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
