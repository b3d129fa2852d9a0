"""Write transactions on SQLite run on the event loop when they get the write lock at once; what
must not change with it: a writer that SQLite makes wait waits off the loop, then writes; a
cancelled one leaves no lock behind; the WAL, checkpointed in a thread, stays bounded."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update

from sophon.platform import prepared, sqlite_driver
from sophon.platform.db import Database

_TABLE = Table("t", MetaData(), Column("n", Integer, primary_key=True), Column("s", String))
_INSERT = insert(_TABLE)
_BUMP = update(_TABLE).values(n=_TABLE.c.n + 100).returning(_TABLE.c.n)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'writes.db'}")
    async with database.transaction() as db:
        await db.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)"))
    yield database
    await database.close()


def _other_writer(database: Database) -> Any:
    """A connection of another writer, through the same SQLite library (two copies in one
    process do not see each other's locks)."""
    library: Any = getattr(sqlite_driver, "sqlean", None) or sqlite3
    path = database.url.split("///", 1)[1]
    return library.connect(path, isolation_level=None, timeout=0)


def _size(path: Path) -> int:
    return path.stat().st_size


async def _values(database: Database) -> list[int]:
    async with database.transaction(readonly=True) as db:
        return list((await db.execute(text("SELECT n FROM t ORDER BY n"))).scalars())


async def test_a_write_transaction_that_gets_the_lock_runs_on_the_loop_and_commits(
    database: Database,
) -> None:
    await _values(database)  # a pooled connection
    others_ran = False

    async def other() -> None:
        nonlocal others_ran
        others_ran = True

    neighbour = asyncio.create_task(other())  # runs as soon as anything awaits the loop
    async with database.transaction() as db:
        await db.execute(text("INSERT INTO t (n) VALUES (1)"))
        await db.execute(text("WITH one AS (SELECT 1 AS n) UPDATE t SET s = 'one' WHERE n = 1"))
        await prepared.run(db, _INSERT, {"n": 2, "s": "two"})
        bumped = await prepared.run(db, _BUMP, {})
    assert not others_ran  # no statement, nor the commit, waited for the connection's thread
    await neighbour
    assert sorted(row.n for row in bumped.all()) == [101, 102]
    assert await _values(database) == [101, 102]


async def test_a_writer_made_to_wait_waits_off_the_loop_then_writes(database: Database) -> None:
    await _values(database)
    other = _other_writer(database)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (n) VALUES (1)")

    async def write() -> None:
        async with database.transaction() as db:
            await prepared.run(db, _INSERT, {"n": 2, "s": None})

    writer = asyncio.create_task(write())
    for _ in range(50):  # the loop goes on while the writer waits for the lock in its thread
        await asyncio.sleep(0)
    assert not writer.done()
    other.execute("COMMIT")
    other.close()
    await writer
    assert await _values(database) == [1, 2]


async def test_a_writer_cancelled_on_the_loop_leaves_no_lock(database: Database) -> None:
    await _values(database)
    holding = asyncio.Event()

    async def write() -> None:
        async with database.transaction() as db:
            await prepared.run(db, _INSERT, {"n": 1, "s": None})
            holding.set()
            await asyncio.Event().wait()  # the write lock held, the caller waits for something

    writer = asyncio.create_task(write())
    await holding.wait()
    other = _other_writer(database)
    with pytest.raises(sqlite_driver.operational_errors()):
        other.execute("BEGIN IMMEDIATE")  # held: busy at once
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    other.execute("BEGIN IMMEDIATE")  # released: no waiting (timeout 0)
    other.execute("INSERT INTO t (n) VALUES (2)")
    other.execute("COMMIT")
    other.close()
    assert await _values(database) == [2]


async def test_checkpoints_in_a_thread_keep_the_wal_bounded(database: Database) -> None:
    checkpoints = database.checkpoints
    assert checkpoints is not None
    checkpoints.every, checkpoints.limit_frames = 8, 64
    wal = Path(database.url.split("///", 1)[1] + "-wal")
    blob = "x" * 3000  # about a page per row
    largest = 0
    for n in range(400):  # about 3 MB of WAL without checkpoints
        async with database.transaction() as db:
            await prepared.run(db, _INSERT, {"n": n, "s": blob})
        await checkpoints.settled()  # the thread keeps pace here, whatever the machine's load
        largest = max(largest, _size(wal))
    async with database.transaction() as db:  # the first writer after a full checkpoint
        value = await prepared.run(db, select(_TABLE.c.n).where(_TABLE.c.n == 399), {})
    assert [row.n for row in value.all()] == [399]
    assert largest < 1_000_000, largest


async def test_statements_after_a_commit_in_the_block_belong_to_the_next_transaction(
    database: Database,
) -> None:
    async def commit_then_abandon() -> None:
        async with database.transaction() as db:
            await prepared.run(db, _INSERT, {"n": 1, "s": None})
            await db.commit()
            await prepared.run(db, _INSERT, {"n": 2, "s": None})
            raise RuntimeError("the second transaction is abandoned")

    with pytest.raises(RuntimeError):
        await commit_then_abandon()
    assert await _values(database) == [1]


async def test_a_transaction_of_prepared_statements_is_freed_without_the_garbage_collector(
    database: Database,
) -> None:
    """Left in a reference cycle, every transaction's session would wait for a collection (a
    pause of the event loop) instead of being freed at once."""
    await _values(database)
    gc.collect()
    gc.disable()
    try:
        async with database.transaction() as db:
            await prepared.run(db, _INSERT, {"n": 1, "s": None})
            await prepared.run(db, _BUMP, {})
            freed = weakref.ref(db.sync_session)
        del db
        assert freed() is None
    finally:
        gc.enable()
