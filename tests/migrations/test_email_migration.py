"""The upgrade that brings stored emails to their normalised form, on both databases."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import Script, ScriptDirectory
from sqlalchemy import text

from sophon.platform import migrate
from sophon.platform.db import create_engine
from tests.platform.test_migrations import empty_database  # noqa: F401 — the fixture

INSERT = (
    "INSERT INTO users (id, email, display_name, password_hash, status, must_change_password, "
    "created_at, updated_at) VALUES (:id, :email, 'X', 'x', 'Active', false, :now, :now)"
)


def _this_migration(url: str) -> Script:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return next(r for r in script.walk_revisions() if r.path.endswith("_emails_audit_key.py"))


async def _run(url: str, sql: str, rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    engine = create_engine(url, pool=False)
    try:
        async with engine.begin() as conn:
            if rows:
                await conn.execute(text(sql), rows)
                return []
            return [tuple(r) for r in await conn.execute(text(sql))]
    finally:
        await engine.dispose()


def _before_the_upgrade(url: str, emails: dict[str, str]) -> Script:
    mine = _this_migration(url)
    assert isinstance(mine.down_revision, str)
    command.upgrade(migrate.alembic_config(url), mine.down_revision)
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = [
        {"id": user_id, "email": email, "now": now} for user_id, email in emails.items()
    ]
    asyncio.run(_run(url, INSERT, rows))
    return mine


def test_the_upgrade_normalises_stored_emails(empty_database: str) -> None:  # noqa: F811
    stored = {"usr_1": "\uff42\uff4f\uff42@example.com", "usr_2": "carol@example.com"}
    _before_the_upgrade(empty_database, stored)
    command.upgrade(migrate.alembic_config(empty_database), "head")
    rows = asyncio.run(_run(empty_database, "SELECT id, email FROM users ORDER BY id", []))
    assert rows == [("usr_1", "bob@example.com"), ("usr_2", "carol@example.com")]


def test_the_upgrade_stops_on_accounts_that_become_one(empty_database: str) -> None:  # noqa: F811
    stored = {"usr_1": "\uff42\uff4f\uff42@example.com", "usr_2": "bob@example.com"}
    mine = _before_the_upgrade(empty_database, stored)
    with pytest.raises(RuntimeError, match=re.escape("bob@example.com: usr_1, usr_2")):
        command.upgrade(migrate.alembic_config(empty_database), "head")
    revision = asyncio.run(_run(empty_database, "SELECT version_num FROM alembic_version", []))
    assert revision == [(mine.down_revision,)]
    rows = asyncio.run(_run(empty_database, "SELECT id, email FROM users ORDER BY id", []))
    assert rows == [("usr_1", "\uff42\uff4f\uff42@example.com"), ("usr_2", "bob@example.com")]
