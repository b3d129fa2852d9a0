"""The SQLite driver behind SQLAlchemy's aiosqlite dialect.

- The standard library's `sqlite3` may be built without loadable extensions (pyenv builds often
  are), so when `sqlean.py` (a drop-in `sqlite3` with FTS5 and extension loading) and `sqlite-vec`
  are installed, connections come from sqlean with sqlite-vec loaded; otherwise from the standard
  library.
- A connection is rolled back before it is closed. When a task is cancelled mid-statement,
  SQLAlchemy closes that connection, but the cancelled statement's cursor still lives, so SQLite
  only marks the connection for closing and keeps its transaction, write lock included, until the
  garbage collector finalizes the cursor: every other writer waits out busy_timeout, then fails.
- A statement is one trip to the connection's thread, not four: SQLAlchemy's adapter opens a
  cursor, executes, fetches every row and closes, awaiting the thread for each step, and each
  trip costs the event loop a wake-up. Server-side (streaming) cursors keep the stepwise way.
- For the same reason BEGIN travels with the transaction's first statement, and a commit or
  rollback with nothing begun (the pool's reset after a commit, an unused transaction) stays
  home."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
from collections.abc import Sequence
from functools import partial
from types import ModuleType, SimpleNamespace
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)
from sqlalchemy.engine import Connection
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

try:
    import sqlean
    import sqlite_vec
except ImportError:  # pragma: no cover - both are dependencies; a stripped install degrades
    sqlean = None
    sqlite_vec = None

_ERRORS = (
    "DatabaseError",
    "Error",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "InterfaceError",
    "DataError",
    "InternalError",
    "Warning",
)


def vector_extension_available() -> bool:
    return sqlean is not None


def _open(database: str, **kwargs: Any) -> Any:
    conn = sqlean.connect(database, **kwargs)
    conn.enable_load_extension(True)
    try:
        sqlite_vec.load(conn)
    finally:
        conn.enable_load_extension(False)
    return conn


class _Connection(aiosqlite.Connection):
    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._execute(self._connection.rollback)  # type: ignore[no-untyped-call]
        await super().close()

    def stop(self) -> asyncio.Future[Any] | None:
        if self._connection is not None:  # queued ahead of the close that stop() queues
            self._tx.put_nowait((None, self._connection.rollback))
        return super().stop()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # no driver cursor up front: each statement makes and closes its own in the thread
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: str, parameters: Any, *, many: bool) -> None:
        driver: Any = self._connection
        raw = driver._conn
        adapted: _AdaptedConnection = self._adapt_connection  # type: ignore[assignment]
        begin = adapted.take_begin()

        def statement() -> tuple[Any, Sequence[Any], int, int | None]:
            if begin is not None:
                raw.execute(begin)
            cursor = raw.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else ()
                return description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            result = await driver._execute(statement)
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return  # nothing stays open in the thread

    def close(self) -> None:
        self._rows.clear()


class _StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapted: _AdaptedConnection = self._adapt_connection  # type: ignore[assignment]
        begin = adapted.take_begin()
        if begin is not None:
            driver: Any = self._connection
            await driver._execute(driver._conn.execute, begin)
        return await super()._execute_async(operation, parameters)


class _AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_open")
    _cursor_cls = _OneTripCursor
    _ss_cursor_cls = _StreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None  # a BEGIN not sent yet: it goes with the next statement
        self._open = False  # a transaction may be open in the thread

    def defer_begin(self, statement: str) -> None:
        self._begin = statement

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        if begin is not None:
            self._open = True  # before the trip: a cancelled one may still have begun
        return begin

    def commit(self) -> None:
        self._begin = None
        if self._open:
            super().commit()  # when it raises, the transaction stays open for the rollback
            self._open = False

    def rollback(self) -> None:
        self._begin = None
        if self._open:
            super().rollback()
            self._open = False


def begin(conn: Connection, statement: str) -> None:
    """Starts a transaction with `statement` (e.g. `BEGIN IMMEDIATE`), sent with the first
    statement of the transaction; for SQLAlchemy's "begin" event."""
    adapted = conn.connection.dbapi_connection
    if isinstance(adapted, _AdaptedConnection):
        adapted.defer_begin(statement)
    else:
        conn.exec_driver_sql(statement)


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection: Any = await_(_connect(*arg, **kw))
        return _AdaptedConnection(self, connection)


def _connect(database: Any, **kwargs: Any) -> aiosqlite.Connection:
    path = database.decode() if isinstance(database, bytes) else str(database)
    opener = _open if sqlean is not None else sqlite3.connect
    connection = _Connection(partial(opener, path, **kwargs), 64)
    # as SQLAlchemy does for its own: the worker thread must not keep the process alive
    worker: Any = getattr(connection, "_thread", connection)
    worker.daemon = True
    return connection


def dbapi_module() -> AsyncAdapt_aiosqlite_dbapi:
    """The `module=` for `create_async_engine` on SQLite. The exception classes must be the
    driver's own: SQLAlchemy recognises driver errors by class."""
    driver: Any = sqlean if sqlean is not None else sqlite3
    shim = SimpleNamespace(
        connect=_connect,
        Connection=_Connection,
        sqlite_version=driver.sqlite_version,
        sqlite_version_info=driver.sqlite_version_info,
        **{name: getattr(driver, name) for name in _ERRORS},
    )
    sync: ModuleType = getattr(driver, "dbapi2", sqlite3)
    return _Dbapi(shim, sync)  # type: ignore[arg-type]
