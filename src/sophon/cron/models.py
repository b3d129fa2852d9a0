"""Cron jobs and their run history. A job's `next_run_at` is set only while it may fire (Active),
so the scheduler finds what is due, and when to wake, with one indexed query; a fire is recorded
once per `(job_id, scheduled_for)` by a unique constraint."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


class ScheduleType(StrEnum):
    RECURRING = "recurring"
    ONE_SHOT = "one-shot"
    INTERVAL = "interval"


class JobStatus(StrEnum):
    ACTIVE = "Active"
    PAUSED = "Paused"
    PENDING_APPROVAL = "PendingApproval"
    COMPLETED = "Completed"


class OverlapPolicy(StrEnum):
    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"


class RunStatus(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    MISSED = "Missed"
    CANCELLED = "Cancelled"


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    CATCH_UP = "catch-up"


class CronJob(Base, TenantScoped, Timestamped):
    __tablename__ = "cron_jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name_key"),
        Index("ix_cron_jobs_next_run_at", "next_run_at"),
    )

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    schedule_type: Mapped[str] = mapped_column(String(20))
    expression: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    action: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20))
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    approval_id: Mapped[str | None] = mapped_column(String(40))
    overlap_policy: Mapped[str] = mapped_column(String(10), default=OverlapPolicy.SKIP.value)
    misfire_grace_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    anchor_at: Mapped[datetime]
    """Where an interval schedule counts from (creation, a schedule change, or resume)."""
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(20))
    secret: Mapped[str | None] = mapped_column(Text)
    """The webhook action's signing secret, sealed by the vault."""
    session_id: Mapped[str | None] = mapped_column(String(40))
    """The agent action's conversation (`cron:<job name>`), made at the first run."""
    created_by: Mapped[str | None] = mapped_column(String(40))


class CronRun(Base, TenantScoped):
    __tablename__ = "cron_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "scheduled_for"),
        Index("ix_cron_runs_status", "status", "job_id"),
        Index("ix_cron_runs_task", "task_id"),
    )

    id: Mapped[str] = id_column()
    job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime]
    fired_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
