"""Tables of the agents domain: agents and the version history of their Markdown files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped

LIVE = text("deleted_at IS NULL")


class Agent(Base, TenantScoped, Timestamped):
    """A persona of one tenant. Deleting is soft (`deleted_at`): tasks and sessions keep
    referring to the row, while its name is free again (the uniqueness index skips it)."""

    __tablename__ = "agents"
    __table_args__ = (
        Index(
            "uq_agents_live_name",
            "tenant_id",
            "name_key",
            unique=True,
            sqlite_where=LIVE,
            postgresql_where=LIVE,
        ),
    )

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))  # case-folded name: unique among live ones
    description: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(300), default="")
    temperature: Mapped[float] = mapped_column(Float, default=0.7)
    max_tokens: Mapped[int] = mapped_column(Integer, default=4096)
    planning_mode: Mapped[str] = mapped_column(String(20), default="Auto")
    heartbeat_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat_interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    heartbeat_active_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    heartbeat_next_at: Mapped[datetime | None]
    heartbeat_last_at: Mapped[datetime | None]
    budget_daily_tokens: Mapped[int | None] = mapped_column(Integer)
    tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]


class AgentFileVersion(Base, TenantScoped):
    """One saved state of an agent's Markdown file; the newest is what the file should hold."""

    __tablename__ = "agent_file_versions"
    __table_args__ = (
        Index("uq_agent_file_versions_version", "agent_id", "kind", "version", unique=True),
    )

    id: Mapped[str] = id_column()
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[str | None] = mapped_column(String(40))
    actor_email: Mapped[str | None] = mapped_column(String(320))
    actor_kind: Mapped[str] = mapped_column(String(10))  # "user", "disk" or "system"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
