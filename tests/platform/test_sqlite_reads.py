"""Read-only transactions on SQLite read on the event loop; what must not change with it: a
reader that SQLite makes wait waits without blocking the loop, then reads; a read-only
transaction that writes after all still writes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sophon.platform import db as db_module
from sophon.platform import sqlite_driver
from sophon.platform.db import Database

original_pragmas = db_module._sqlite_pragmas


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    async with database.transaction() as db:
        await db.execute(text("CREATE TABLE t (n INTEGER)"))
        await db.execute(text("INSERT INTO t VALUES (1)"))
    return database


async def _read(database: Database) -> list[int]:
    async with database.transaction(readonly=True) as db:
        return list((await db.execute(text("SELECT n FROM t ORDER BY n"))).scalars())


def _without_wal(dbapi_connection: Any, record: Any) -> None:
    """The Gateway's connection set-up, but the rollback journal kept: there, unlike under WAL
    (where this is rare), a writer's exclusive lock makes readers wait."""
    original_pragmas(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA journal_mode=DELETE").close()


@pytest.mark.parametrize("driver", ["sqlean", "stdlib"])
async def test_a_reader_made_to_wait_waits_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    if driver == "stdlib":
        monkeypatch.setattr(sqlite_driver, "sqlean", None)
    monkeypatch.setattr(db_module, "_sqlite_pragmas", _without_wal)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}")
    try:
        async with database.transaction() as db:
            await db.execute(text("CREATE TABLE t (n INTEGER)"))
            await db.execute(text("INSERT INTO t VALUES (1)"))
        assert await _read(database) == [1]  # a pooled connection that has read on the loop
        # another writer, through the same SQLite library (two copies in one process do not see
        # each other's locks)
        library: Any = getattr(sqlite_driver, "sqlean", None) or sqlite3
        other = library.connect(str(tmp_path / "reads.db"), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # readers get SQLITE_BUSY until it commits
        other.execute("INSERT INTO t VALUES (2)")
        reader = asyncio.create_task(_read(database))
        for _ in range(50):  # the loop keeps running while the reader waits for the lock
            await asyncio.sleep(0)
        assert not reader.done()
        other.execute("COMMIT")
        other.close()
        async with asyncio.timeout(20):
            assert await reader == [1, 2]
        assert await _read(database) == [1, 2]  # and the next one reads on the loop again
    finally:
        await database.close()


async def test_a_read_only_transaction_may_still_write(database: Database) -> None:
    try:
        async with database.transaction(readonly=True) as db:
            assert list((await db.execute(text("SELECT n FROM t"))).scalars()) == [1]
            async with db.begin_nested():
                await db.execute(text("INSERT INTO t VALUES (3)"))
            assert list((await db.execute(text("SELECT n FROM t ORDER BY n"))).scalars()) == [1, 3]
        assert await _read(database) == [1, 3]
        async with database.transaction() as db:  # no lock was left behind
            await db.execute(text("INSERT INTO t VALUES (4)"))
        assert await _read(database) == [1, 3, 4]
    finally:
        await database.close()
