"""A TableWatch moves its count for every write to its tables, once when the write runs and again
once it is committed, so nothing read before a commit can pass for current after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, update

from sophon.platform.changes import ACTIVITY_ONLY
from sophon.platform.db import Database

metadata = MetaData()
watched = Table("watched", metadata, Column("id", Integer, primary_key=True), Column("n", Integer))
other = Table("other", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'watch.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.close()


async def test_a_write_moves_the_count_when_it_runs_and_after_its_commit(
    database: Database,
) -> None:
    watch = database.watch({"watched"})
    before = watch.count
    async with database.transaction() as db:
        await db.execute(insert(watched).values(id=1, n=0))
        during = watch.count
        assert during > before
        async with database.transaction(readonly=True) as reader:  # sees the old state...
            assert (await reader.execute(watched.select())).all() == []
            seen_at = watch.count
    assert watch.count > seen_at  # ...and the commit makes what it read stale


async def test_a_rolled_back_write_moves_it_too(database: Database) -> None:
    watch = database.watch({"watched"})
    before = watch.count

    async def abandon() -> None:
        async with database.transaction() as db:
            await db.execute(insert(watched).values(id=1, n=0))
            raise RuntimeError("abandoned")

    with pytest.raises(RuntimeError):
        await abandon()
    assert watch.count > before


async def test_activity_writes_and_other_tables_leave_it_alone(database: Database) -> None:
    async with database.transaction() as db:
        await db.execute(insert(watched).values(id=1, n=0))
    watch = database.watch({"watched"})
    before = watch.count
    async with database.transaction() as db:
        await db.execute(update(watched).values(n=1).execution_options(**ACTIVITY_ONLY))
        await db.execute(insert(other).values(id=1))
    async with database.transaction(readonly=True) as db:
        assert (await db.execute(watched.select())).all() == [(1, 1)]
    assert watch.count == before


async def test_a_write_moves_every_watch_of_its_table_and_no_other(database: Database) -> None:
    first, second = database.watch({"watched"}), database.watch({"watched", "other"})
    elsewhere = database.watch({"elsewhere"})
    async with database.transaction() as db:
        await db.execute(insert(other).values(id=1))
    assert (first.count, second.count, elsewhere.count) == (0, 2, 0)  # at the write, at commit
    async with database.transaction() as db:
        await db.execute(insert(watched).values(id=1, n=0))
        await db.execute(update(watched).values(n=1))
    assert (first.count, second.count, elsewhere.count) == (3, 5, 0)  # two writes, one commit
