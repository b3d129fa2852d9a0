"""Gateway-wide settings stored in the database (e.g. a licence installed through the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.clock import utcnow
from sophon.platform.db import Base


class SystemSetting(Base):
    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


async def get_setting(db: AsyncSession, key: str) -> Any:
    row = await db.get(SystemSetting, key)
    return None if row is None else row.value


async def put_setting(db: AsyncSession, key: str, value: Any) -> None:
    row = await db.get(SystemSetting, key)
    if row is None:
        db.add(SystemSetting(key=key, value=value))
    else:
        row.value = value


async def claim_setting_once(db: AsyncSession, key: str, value: Any) -> bool:
    """Writes the key only if nobody has: False when it already exists (first writer wins, also
    across concurrent transactions, through the primary key)."""
    if await db.get(SystemSetting, key) is not None:
        return False
    try:
        async with db.begin_nested():
            db.add(SystemSetting(key=key, value=value))
            await db.flush()
    except IntegrityError:
        return False
    return True
