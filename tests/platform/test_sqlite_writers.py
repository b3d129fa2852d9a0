"""This process's write transactions on one SQLite file queue on the event loop, first come
first served, instead of retrying SQLite's lock in their threads; readers never wait for them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sophon.platform.db import Database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    async with database.transaction() as db:
        await db.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, s TEXT)"))
    yield database
    await database.close()


async def _open_connections(database: Database, count: int) -> None:
    """Pools `count` connections, so that no writer below waits for one to open."""
    opened, done = asyncio.Event(), asyncio.Event()
    waiting = 0

    async def read() -> None:
        nonlocal waiting
        async with database.transaction(readonly=True) as db:
            await db.execute(text("SELECT 1"))
            waiting += 1
            if waiting == count:
                opened.set()
            await done.wait()

    readers = [asyncio.create_task(read()) for _ in range(count)]
    await opened.wait()
    done.set()
    await asyncio.gather(*readers)


async def test_writers_that_wait_commit_in_the_order_they_came(database: Database) -> None:
    await _open_connections(database, 5)
    committed: list[int] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def write(n: int) -> None:
        async with database.transaction() as db:
            await db.execute(text("INSERT INTO t (n, s) VALUES (:n, 'x')"), {"n": n})
            if n == 0:
                first_in.set()
                await release.wait()  # holds the write lock while the others arrive
        committed.append(n)

    writers = [asyncio.create_task(write(0))]
    await first_in.wait()
    for n in range(1, 5):
        writers.append(asyncio.create_task(write(n)))
        for _ in range(3):  # lets it reach its BEGIN: arrival order is the test's order
            await asyncio.sleep(0)
    async with database.transaction(readonly=True) as db:  # a reader does not queue
        assert (await db.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    release.set()
    await asyncio.wait_for(asyncio.gather(*writers), 30)
    assert committed == list(range(5))


async def test_a_cancelled_writer_leaves_its_place_to_the_next(database: Database) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with database.transaction() as db:
            await db.execute(text("INSERT INTO t (n, s) VALUES (1, 'held')"))
            holding.set()
            await release.wait()

    async def write(n: int) -> None:
        async with database.transaction() as db:
            await db.execute(text("INSERT INTO t (n, s) VALUES (:n, 'x')"), {"n": n})

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiting = asyncio.create_task(write(2))
    then = asyncio.create_task(write(3))
    await asyncio.sleep(0)
    waiting.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, then), 30)
    assert waiting.cancelled()
    async with database.transaction(readonly=True) as db:
        rows = (await db.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
    assert rows == [1, 3]
