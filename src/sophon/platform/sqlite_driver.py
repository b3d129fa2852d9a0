"""The SQLite driver behind SQLAlchemy's aiosqlite dialect.

- The standard library's `sqlite3` may be built without loadable extensions (pyenv builds often
  are), so when `sqlean.py` (a drop-in `sqlite3` with FTS5 and extension loading) and `sqlite-vec`
  are installed, connections come from sqlean with sqlite-vec loaded; otherwise from the standard
  library.
- A connection is rolled back before it is closed. When a task is cancelled mid-statement,
  SQLAlchemy closes that connection, but the cancelled statement's cursor still lives, so SQLite
  only marks the connection for closing and keeps its transaction, write lock included, until the
  garbage collector finalizes the cursor: every other writer waits out busy_timeout, then fails."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from functools import partial
from types import ModuleType, SimpleNamespace
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

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
    return AsyncAdapt_aiosqlite_dbapi(shim, sync)  # type: ignore[arg-type]
