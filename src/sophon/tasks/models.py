"""The task ledger: every tracked unit of agent work, whatever queue job runs it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


class TaskStatus(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value)
FINISHED = (TaskStatus.COMPLETED.value, TaskStatus.FAILED.value, TaskStatus.CANCELLED.value)


class Task(Base, TenantScoped, Timestamped):
    """`kind` is `chat` or `heartbeat`. `message_id` is the user message the task answers;
    `log` is a list of `{at, level, message}`; `plan` the execution plan when one was made."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status", "tenant_id", "status", "id"),
        Index("ix_tasks_user", "tenant_id", "user_id", "id"),
        Index("ix_tasks_session", "session_id", "status"),
        Index("ix_tasks_agent_created", "agent_id", "created_at"),  # an agent's day (daily logs)
    )

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(20), default="chat")
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.QUEUED.value)
    session_id: Mapped[str | None] = mapped_column(String(40))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(String(40))
    parent_task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    job_id: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200), default="")
    streaming: Mapped[bool] = mapped_column(Boolean, default=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(50))
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
