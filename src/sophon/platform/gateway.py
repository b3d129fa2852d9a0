"""The Gateway's process-wide parts, built once at start-up and reached by dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from sophon.platform.db import Database
from sophon.platform.keys import load_or_create_key
from sophon.platform.pagination import CursorCodec, Paginator
from sophon.settings import Settings


@dataclass
class Gateway:
    settings: Settings
    db: Database
    paginator: Paginator

    @classmethod
    def build(cls, settings: Settings) -> Gateway:
        settings.data.mkdir(parents=True, exist_ok=True)
        cursor_key = load_or_create_key(settings.data, "cursor")
        return cls(
            settings=settings,
            db=Database(settings.db_url),
            paginator=Paginator(CursorCodec(cursor_key)),
        )

    async def close(self) -> None:
        await self.db.close()
