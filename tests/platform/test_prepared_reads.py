"""`Database.read` on a SQLite file runs a Core select compiled once on the event loop: its rows
must be the ones SQLAlchemy gives (types processed, attributes by column name), a read that
SQLite makes wait must not block the loop, and the reading connection must not write."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, MetaData, String, Table, bindparam, select, text

from sophon.platform import db as db_module
from sophon.platform import sqlite_driver
from sophon.platform.db import Database, UTCDateTime
from sophon.platform.listing import TenantList
from sophon.platform.pagination import CursorCodec, PageParams, Paginator

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String, primary_key=True),
    Column("tenant_id", String, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("data", JSON, nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("note", String, nullable=True),
)
BY_TENANT = select(things).where(things.c.tenant_id == bindparam("tenant")).order_by(things.c.id)
WHEN = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


async def _fill(database: Database) -> None:
    async with database.transaction() as db:
        await (await db.connection()).run_sync(lambda conn: metadata.create_all(conn))
        rows = [
            {"id": f"t{n:02}", "tenant_id": "a" if n % 2 else "b", "at": WHEN,
             "data": {"n": n, "tags": ["x"]}, "flag": n % 3 == 0, "note": None if n % 4 else "four"}
            for n in range(1, 8)
        ]  # fmt: skip
        await db.execute(things.insert(), rows)


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'prepared.db'}")
    await _fill(database)
    yield database
    await database.close()


async def test_rows_read_as_sqlalchemy_reads_them(database: Database) -> None:
    inline = await database.read(BY_TENANT, {"tenant": "a"})
    async with database.transaction(readonly=True) as db:
        usual = (await db.execute(BY_TENANT, {"tenant": "a"})).all()
    assert [tuple(row) for row in inline] == [tuple(row) for row in usual]
    first = inline[0]
    assert (first.id, first.at, first.data, first.flag, first.note) == (
        "t01",
        WHEN,
        {"n": 1, "tags": ["x"]},
        False,
        None,
    )
    assert first.at.tzinfo is UTC
    assert [row.flag for row in inline] == [False, True, False, False]


async def test_a_tenant_list_pages_through_the_tenant_rows_only(database: Database) -> None:
    listing = TenantList(things, descending=False)
    paginator = Paginator(CursorCodec(b"k" * 32))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        async with database.transaction(readonly=True, tenant_id="b") as db:
            rows, cursor, more = await listing.page(db, paginator, PageParams(2, cursor), "things")
        seen += [row.id for row in rows]
        if not more:
            break
    assert seen == ["t02", "t04", "t06"]
    async with database.transaction(readonly=True) as db:  # no tenant: no rows
        assert (await listing.page(db, paginator, PageParams(50, None), "things"))[0] == []


async def test_the_reading_connection_does_not_write(database: Database) -> None:
    reader: Any = database._inline_reader
    assert reader is not None
    await database.read(BY_TENANT, {"tenant": "a"})
    with pytest.raises(sqlite_driver.operational_errors()):
        reader._connection.execute("DELETE FROM things")
    assert len(await database.read(BY_TENANT, {"tenant": "a"})) == 4


async def test_a_read_made_to_wait_waits_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = db_module._sqlite_pragmas

    def without_wal(dbapi_connection: Any, record: Any) -> None:
        original(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA journal_mode=DELETE").close()

    monkeypatch.setattr(db_module, "_sqlite_pragmas", without_wal)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}")
    try:
        await _fill(database)
        assert len(await database.read(BY_TENANT, {"tenant": "b"})) == 3  # read on the loop
        library: Any = getattr(sqlite_driver, "sqlean", None) or sqlite3
        other = library.connect(str(tmp_path / "locked.db"), isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # readers get SQLITE_BUSY until it commits
        other.execute(
            "INSERT INTO things VALUES ('t08', 'b', '2026-12-07 18:00:00.000000', '{}', 0, NULL)"
        )
        reader = asyncio.create_task(database.read(BY_TENANT, {"tenant": "b"}))
        for _ in range(50):  # the loop keeps running while the read waits for the lock
            await asyncio.sleep(0)
        assert not reader.done()
        other.execute("COMMIT")
        other.close()
        async with asyncio.timeout(20):
            assert [row.id for row in await reader] == ["t02", "t04", "t06", "t08"]
        async with database.transaction(readonly=True) as db:
            assert (await db.execute(text("SELECT count(*) FROM things"))).scalar() == 8
    finally:
        await database.close()
