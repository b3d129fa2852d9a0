"""The full-text index exists the same way whether the schema came from the migrations or was
built fresh from the models (it is outside the metadata, so the schema comparison skips it)."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import text

from sophon.models import metadata
from sophon.platform import migrate
from sophon.platform.db import create_engine
from tests.platform.test_migrations import empty_database  # noqa: F401  (fixture)

SQLITE = "SELECT type, name FROM sqlite_master WHERE name LIKE 'memory_fts%' ORDER BY name"
POSTGRES = "SELECT 'index', indexname FROM pg_indexes WHERE indexname LIKE 'memory_fts%'"


async def _objects(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:
            query = SQLITE if engine.dialect.name == "sqlite" else POSTGRES
            rows = (await conn.execute(text(query))).all()
            return [(str(kind), str(name)) for kind, name in rows]
    finally:
        await engine.dispose()


def _expected(url: str) -> set[tuple[str, str]]:
    if url.startswith("sqlite"):
        return {
            ("table", "memory_fts"),
            ("trigger", "memory_fts_ad"),
            ("trigger", "memory_fts_ai"),
            ("trigger", "memory_fts_au"),
        }
    return {("index", "memory_fts_gin")}


@pytest.mark.parametrize("path", ["migrations", "models"])
def test_full_text_objects_on_both_paths(empty_database: str, path: str) -> None:  # noqa: F811
    if path == "migrations":
        command.upgrade(migrate.alembic_config(empty_database), "head")
    else:
        migrate.upgrade(empty_database, metadata)
    found = set(asyncio.run(_objects(empty_database)))
    assert _expected(empty_database) <= found


def test_downgrade_removes_the_index(empty_database: str) -> None:  # noqa: F811
    config = migrate.alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "0005")
    assert asyncio.run(_objects(empty_database)) == []
    command.upgrade(config, "head")
    assert _expected(empty_database) <= set(asyncio.run(_objects(empty_database)))
