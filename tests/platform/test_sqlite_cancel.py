"""A task cancelled in the middle of SQLite work leaves no lock behind: the next writer goes
through at once instead of waiting out busy_timeout (30 s) and failing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from sophon.platform import sqlite_driver
from sophon.platform.db import Database


@pytest.mark.parametrize("driver", ["sqlean", "stdlib"])
async def test_a_writer_cancelled_mid_transaction_leaves_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    if driver == "stdlib":  # the fallback when sqlean.py is not installed; older SQLite versions
        monkeypatch.setattr(sqlite_driver, "sqlean", None)  # kept the lock there
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}")
    try:
        async with database.transaction() as db:
            await db.execute(text("CREATE TABLE t (n INTEGER)"))
        for _ in range(6):
            busy = asyncio.Event()

            async def writer(busy: asyncio.Event = busy) -> None:
                async with database.transaction() as db:
                    await db.execute(text("INSERT INTO t VALUES (0)"))
                    for statement in range(1_000_000):
                        await db.execute(text("SELECT count(*) FROM t"))
                        if statement == 20:
                            busy.set()

            task = asyncio.create_task(writer())
            await busy.wait()
            # not a wait for an outcome: the writer keeps going, so the cancel lands wherever
            # it happens to be, mostly inside a statement (where the lock used to stay behind)
            await asyncio.sleep(0.02)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with asyncio.timeout(10):
                async with database.transaction() as db:
                    await db.execute(text("INSERT INTO t VALUES (1)"))
        async with database.transaction(readonly=True) as db:
            assert (await db.execute(text("SELECT n FROM t"))).scalars().all() == [1] * 6
    finally:
        await database.close()
