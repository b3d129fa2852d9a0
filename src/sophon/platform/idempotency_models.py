"""The `idempotency_keys` table: a replayable response per (user, route, key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base, id_column
from sophon.platform.tenancy import TenantScoped


class IdempotencyRecord(Base, TenantScoped):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "owner", "scope", "key"),)

    id: Mapped[str] = id_column()
    owner: Mapped[str] = mapped_column(String(60))
    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
