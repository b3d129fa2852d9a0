"""Schema migrations (Alembic), applied on start and by `sophon db upgrade`.

Revisions are numbered `NNNN` in a single line, so the newest file names the head. A database
already there skips loading Alembic at all, which keeps restarts fast; an empty one is built
straight from the models' metadata (`sophon.models`, handed in by the caller) and stamped at the
head, as Alembic recommends for new databases (a test proves the migrations and the models build
the same schema)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from sophon.platform.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_.*\.py$")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def newest_revision() -> str:
    """The head, read from the file names (`0002_….py` → `0002`)."""
    found = [
        m.group(1)
        for p in (MIGRATIONS / "versions").iterdir()
        if (m := _REVISION_FILE.match(p.name))
    ]
    return max(found)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def _revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            return str(version) if version is not None else None
    except DBAPIError:  # no alembic_version table yet: an empty database
        return None


async def _create_fresh(engine: AsyncEngine, metadata: MetaData) -> bool:
    """Builds an empty database from the models and stamps the head; False if not empty."""
    async with engine.begin() as conn:
        existing = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        if existing:
            return False
        # the database has no table: no need to look for each one before creating it
        await conn.run_sync(lambda sync: metadata.create_all(sync, checkfirst=False))
        await conn.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        await conn.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
            {"v": newest_revision()},
        )
        return True


def _alembic_upgrade(url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


async def ensure_schema(engine: AsyncEngine, metadata: MetaData) -> None:
    """Brings the database to the head: nothing to do, built fresh, or migrated by Alembic."""
    current = await _revision(engine)
    if current == newest_revision():
        return
    if current is None and await _create_fresh(engine, metadata):
        return
    url = engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(_alembic_upgrade, url, "head")  # Alembic runs its own event loop


def upgrade(url: str, metadata: MetaData, revision: str = "head") -> None:
    """Blocking entry point for the CLI and tests (not for a running event loop)."""
    if revision != "head":
        _alembic_upgrade(url, revision)
        return

    async def run() -> None:
        engine = create_engine(url, pool=False)
        try:
            await ensure_schema(engine, metadata)
        finally:
            await engine.dispose()

    asyncio.run(run())
