"""Migrations build the whole schema from empty on both databases, matching the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sophon.models import described_by_models, metadata
from sophon.platform import migrate
from sophon.platform.db import create_engine
from tests.conftest import _pg_url, pg_admin


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    reason = request.getfixturevalue("pg_unavailable")
    if reason:
        pytest.skip(reason)
    name = f"sophon_empty_{tmp_path.name[-12:].lower().replace('-', '_')}"
    pg_admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _state(url: str) -> tuple[str | None, list[object]]:
    engine = create_engine(url, pool=False)
    try:
        async with engine.connect() as conn:

            def inspect(sync_conn):  # type: ignore[no-untyped-def]
                context = MigrationContext.configure(
                    sync_conn,
                    opts={"compare_type": True, "include_name": described_by_models},
                )
                return context.get_current_revision(), compare_metadata(context, metadata)

            return await conn.run_sync(inspect)
    finally:
        await engine.dispose()


def test_migrations_from_empty_reach_head_and_match_models(empty_database: str) -> None:
    command.upgrade(migrate.alembic_config(empty_database), "head")  # the whole chain
    revision, diff = asyncio.run(_state(empty_database))
    assert revision == migrate.head_revision()
    assert diff == []


def test_a_fresh_database_is_built_from_the_models_at_the_head(empty_database: str) -> None:
    migrate.upgrade(empty_database, metadata)
    revision, diff = asyncio.run(_state(empty_database))
    assert revision == migrate.head_revision()
    assert diff == []


def test_an_older_database_is_migrated_forward(empty_database: str) -> None:
    command.upgrade(migrate.alembic_config(empty_database), "0001")
    assert asyncio.run(_state(empty_database))[0] == "0001"
    migrate.upgrade(empty_database, metadata)
    revision, diff = asyncio.run(_state(empty_database))
    assert revision == migrate.head_revision()
    assert diff == []


def test_upgrade_is_idempotent(empty_database: str) -> None:
    migrate.upgrade(empty_database, metadata)
    migrate.upgrade(empty_database, metadata)
    assert asyncio.run(_state(empty_database))[0] == migrate.head_revision()


def test_file_names_name_the_head() -> None:
    """Start-up trusts the newest `NNNN_` file as the head; Alembic must agree (one line)."""
    assert migrate.newest_revision() == migrate.head_revision()
