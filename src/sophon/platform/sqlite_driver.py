"""The SQLite driver behind SQLAlchemy's aiosqlite dialect. The standard library's `sqlite3` may
be built without loadable extensions (pyenv builds often are), so when `sqlean.py` (a drop-in
`sqlite3` with FTS5 and extension loading) and `sqlite-vec` are installed, connections come from
sqlean with sqlite-vec loaded; otherwise from the standard library, as before. Everything else
(aiosqlite's worker thread, SQLAlchemy's adaptation) stays the same."""

from __future__ import annotations

import sqlite3
from types import ModuleType, SimpleNamespace
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

try:
    import sqlean  # type: ignore[import-untyped]
    import sqlite_vec  # type: ignore[import-untyped]
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


def _connect(database: Any, **kwargs: Any) -> aiosqlite.Connection:
    path = database.decode() if isinstance(database, bytes) else str(database)
    connection = aiosqlite.Connection(lambda: _open(path, **kwargs), 64)
    # as SQLAlchemy does for its own: the worker thread must not keep the process alive
    worker: Any = getattr(connection, "_thread", connection)
    worker.daemon = True
    return connection


def dbapi_module() -> AsyncAdapt_aiosqlite_dbapi | None:
    """The `module=` for `create_async_engine` on SQLite, or None for the stock driver. The
    exception classes must be sqlean's: SQLAlchemy recognises driver errors by class."""
    if sqlean is None:
        return None
    shim = SimpleNamespace(
        connect=_connect,
        Connection=aiosqlite.Connection,
        sqlite_version=sqlean.sqlite_version,
        sqlite_version_info=sqlean.sqlite_version_info,
        **{name: getattr(sqlean, name) for name in _ERRORS},
    )
    sync: ModuleType = sqlean.dbapi2 if hasattr(sqlean, "dbapi2") else sqlite3
    return AsyncAdapt_aiosqlite_dbapi(shim, sync)  # type: ignore[arg-type]
