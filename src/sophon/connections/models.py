"""The `connections` table: one named credential of a tenant. `secret` is a vault blob whose
associated data binds it to the row (`connection:<id>`), so it cannot be moved to another row or
tenant; `secret_mask` is all a response ever shows of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


def secret_aad(connection_id: str) -> str:
    return f"connection:{connection_id}"


class Connection(Base, TenantScoped, Timestamped):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(64), default="custom")
    auth_type: Mapped[str] = mapped_column(String(20))
    username: Mapped[str | None] = mapped_column(String(200))
    header: Mapped[str | None] = mapped_column(String(100))
    test_url: Mapped[str | None] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(Text)
    secret_mask: Mapped[str] = mapped_column(String(40))
    rotated_at: Mapped[datetime | None]
    last_tested_at: Mapped[datetime | None]
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str | None] = mapped_column(String(40))
