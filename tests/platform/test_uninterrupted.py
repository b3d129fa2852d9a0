"""`Database.uninterrupted`: a unit of work whose caller is cancelled still ends cleanly (here,
commits), and the next writer goes through at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.db import Database


async def test_a_cancelled_caller_lets_its_unit_of_work_finish(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.transaction() as db:
            await db.execute(text("CREATE TABLE cancel_probe (n INTEGER)"))
        started = asyncio.Event()

        async def work(db: AsyncSession) -> None:
            for n in range(50):
                await db.execute(text("INSERT INTO cancel_probe VALUES (:n)"), {"n": n})
                started.set()

        caller = asyncio.create_task(database.uninterrupted(work))
        await started.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        async with asyncio.timeout(5):  # a lock left behind would hold this for busy_timeout
            async with database.transaction() as db:
                await db.execute(text("INSERT INTO cancel_probe VALUES (50)"))
        async with database.transaction(readonly=True) as db:
            rows = (await db.execute(text("SELECT n FROM cancel_probe ORDER BY n"))).scalars()
            assert list(rows) == list(range(51))
    finally:
        await database.close()
