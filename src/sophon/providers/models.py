"""Tables of the providers domain: a tenant's configured model providers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


class ModelProvider(Base, TenantScoped, Timestamped):
    """`api_key_secret` is the vault blob (associated data: the provider id), never plaintext;
    `api_key_mask` is what responses show. `models` holds the catalog entries as stored JSON."""

    __tablename__ = "model_providers"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str | None] = mapped_column(String(2000))
    api_key_secret: Mapped[str | None] = mapped_column(Text)
    api_key_mask: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="Active")
    default_model: Mapped[str | None] = mapped_column(String(200))
    models: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_tested_at: Mapped[datetime | None]
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(String(1000))


class ModelUsage(Base, TenantScoped):
    """Tokens of one model call, for budgets and insights."""

    __tablename__ = "model_usage"
    __table_args__ = (Index("ix_model_usage_agent_day", "tenant_id", "agent_id", "at"),)

    id: Mapped[str] = id_column()
    agent_id: Mapped[str | None] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    session_id: Mapped[str | None] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # what the call was for: "chat" (a turn's own steps) or "memory" (learning, daily logs)
    kind: Mapped[str] = mapped_column(String(20), default="chat", server_default="chat")
