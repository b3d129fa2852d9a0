"""Workflows: the saved definition with its version history, and durable runs with one record
per node execution."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


class RunStatus(StrEnum):
    QUEUED = "Queued"
    RUNNING = "Running"
    WAITING = "Waiting"
    PAUSED = "Paused"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


RUN_FINISHED = (RunStatus.COMPLETED.value, RunStatus.FAILED.value, RunStatus.CANCELLED.value)


class NodeStatus(StrEnum):
    RUNNING = "Running"
    WAITING = "Waiting"
    COMPLETED = "Completed"
    FAILED = "Failed"
    SKIPPED = "Skipped"


class ApprovalState(StrEnum):
    NOT_NEEDED = "NotNeeded"
    REQUIRED = "Required"
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class Workflow(Base, TenantScoped, Timestamped):
    """`definition` is the current version's JSON (`id`, `version` and `enabled` are the
    columns'). `approval` tracks the ≥ Medium-risk activation rule."""

    __tablename__ = "workflows"
    __table_args__ = (Index("ix_workflows_tenant", "tenant_id", "id"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    trigger_type: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    risk: Mapped[str] = mapped_column(String(20), default="None")
    approval: Mapped[str] = mapped_column(String(20), default=ApprovalState.NOT_NEEDED.value)
    approval_id: Mapped[str | None] = mapped_column(String(40))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_authored: Mapped[bool] = mapped_column(Boolean, default=False)
    secrets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """Name → vault blob (associated data `<workflow id>:<name>`); `$secrets.<name>` in runs."""


class WorkflowVersion(Base, TenantScoped):
    __tablename__ = "workflow_versions"
    __table_args__ = (Index("uq_workflow_versions_number", "workflow_id", "number", unique=True),)

    id: Mapped[str] = id_column()
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text, default="")
    actor_user_id: Mapped[str | None] = mapped_column(String(40))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowRun(Base, TenantScoped, Timestamped):
    """One execution of one version. `state` holds `$vars` and engine bookkeeping; `user_id`
    is whose rights the run has (the triggering user, or the owner for automatic triggers)."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index("ix_workflow_runs_workflow", "workflow_id", "id"),
        Index("ix_workflow_runs_status", "tenant_id", "status"),
        Index("ix_workflow_runs_task", "task_id"),
        Index("uq_workflow_runs_dedupe", "workflow_id", "dedupe_key", unique=True),
    )

    id: Mapped[str] = id_column()
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED.value)
    task_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_run_id: Mapped[str | None] = mapped_column(String(40))
    dedupe_key: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class WorkflowNodeRun(Base, TenantScoped):
    """One attempt of one node in one run; `state` is the node's own progress (a loop's done
    iterations, a gate's approval id, a wait's instant)."""

    __tablename__ = "workflow_node_runs"
    __table_args__ = (Index("ix_workflow_node_runs_run", "run_id", "id"),)

    id: Mapped[str] = id_column()
    run_id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))
    input: Mapped[Any] = mapped_column(JSON, nullable=True)
    output: Mapped[Any] = mapped_column(JSON, nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
