from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, Timestamped, id_column


class Tenant(Base, Timestamped):
    __tablename__ = "tenants"

    id: Mapped[str] = id_column()
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tier_override: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="Active")
    # tokens per day for every model call in the tenant (None: no budget)
    budget_daily_tokens: Mapped[int | None] = mapped_column(Integer)
