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
  home.
- A read-only transaction reads on the event loop, no trip at all: under WAL a reader never waits
  for a writer, so its SELECTs (and its BEGIN and COMMIT) run in microseconds, while a trip costs
  the loop a wake-up and the thread a GIL hand-over each way (most of a small GET's database
  cost). To never block the loop, it reads with `busy_timeout` 0: in the rare case SQLite makes a
  reader wait (WAL recovery, an exclusive lock), the statement goes the usual way and waits
  there, and so does the rest of the transaction. Full-text and vector searches, any write, and
  a connection whose thread is still busy (a statement whose caller was cancelled) take the
  thread as before.
- A write transaction runs on the event loop too, when its connection's commits are followed by
  checkpoints in a thread (`checkpoints.py`: a commit with `wal_autocheckpoint` 0 never waits
  for one): its `BEGIN IMMEDIATE` is tried on the loop with `busy_timeout` 0, and once it holds
  SQLite's write lock no statement of the transaction waits for another (its commit included,
  which under WAL with `synchronous=NORMAL` writes to the WAL without syncing). When another
  writer holds the lock, the BEGIN fails at once and the transaction goes the usual way, patient,
  in the thread; so does the rest of a transaction from its first statement that may take long
  (a search, a DELETE, an `executemany`, a streaming cursor). A statement on the loop is
  synchronous: no cancellation can cut it short with the lock held."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Callable, Sequence
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

from sophon.platform.sqlite_connection import ThreadedConnection as _Connection
from sophon.platform.sqlite_writers import turn_for

try:
    import sqlean
    import sqlite_vec
except ImportError:  # pragma: no cover - both are dependencies; a stripped install degrades
    sqlean = None
    sqlite_vec = None

BUSY_TIMEOUT_MS = 30_000
"""How long a statement run in the thread waits for a lock (`PRAGMA busy_timeout`)."""
_PATIENT = f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"
_IMPATIENT = "PRAGMA busy_timeout=0"
_SLOW_READS = ("MATCH", "vec_", "bm25(")  # searches that may take milliseconds: on the thread
_QUICK_WRITES = frozenset({"SELECT", "INSERT", "UPDATE", "WITH"})  # on the loop when it writes
_YIELD_EVERY = 16
LOCKED_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (and their extended codes)
_OPERATIONAL_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    *((sqlean.OperationalError,) if sqlean is not None else ()),
)

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


def operational_errors() -> tuple[type[Exception], ...]:
    return _OPERATIONAL_ERRORS


def open_reader(path: str) -> Any:
    """A connection for reads on the event loop (`platform/prepared.py`): autocommit, a lone
    SELECT at a time, refusing writes, and never waiting for a lock."""
    driver: Any = sqlean if sqlean is not None else sqlite3
    # the loop reading may run in another thread than the one that opened it (a test's)
    conn = driver.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=1")
    conn.execute(_IMPATIENT)
    return conn


def open_checkpointer(path: str, busy_timeout_ms: int) -> Any:
    """A connection for `checkpoints.py`'s thread (opened there, closed on the loop)."""
    driver: Any = sqlean if sqlean is not None else sqlite3
    conn = driver.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return conn


def file_path(url: str) -> str | None:
    """The file of a SQLite database URL; None for anything else (PostgreSQL, `:memory:`, URIs)."""
    if not url.startswith("sqlite") or "///" not in url:
        return None
    path = url.split("///", 1)[1].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


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
        driver: _Connection = self._connection  # type: ignore[assignment]
        raw = driver._conn
        adapted: _AdaptedConnection = self._adapt_connection  # type: ignore[assignment]
        await adapted.queue_as_writer()
        if adapted.runs_inline(operation, many):
            begin = adapted.take_begin()
            try:
                result = _statement(raw, adapted.be_impatient(), begin, operation, parameters)
            except _OPERATIONAL_ERRORS as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF not in LOCKED_CODES:
                    raise
                adapted.inline = False  # made to wait: this transaction goes the usual way
                if raw.in_transaction:
                    begin = None  # it did begin: only the statement failed
            else:
                self._description, rows, self._rowcount, self._lastrowid = result
                self._rows = collections.deque(rows)
                if adapted.ran_inline():
                    await asyncio.sleep(0)  # a long transaction lets the loop's others run
                return
        else:
            adapted.inline = adapted.inline and not adapted.writes and _is_read(operation)
            begin = adapted.take_begin()
        patience = adapted.be_patient()

        def statement() -> tuple[Any, Sequence[Any], int, int | None]:
            if patience is not None:
                raw.execute(patience)
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


def _statement(
    raw: Any, prelude: str | None, begin: str | None, operation: str, parameters: Any
) -> tuple[Any, Sequence[Any], int, int | None]:
    """One statement on the loop (BEGIN first when it opens the transaction)."""
    if prelude is not None:
        raw.execute(prelude)
    if begin is not None:
        raw.execute(begin)
    cursor = raw.execute(operation) if parameters is None else raw.execute(operation, parameters)
    try:
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _is_read(operation: str) -> bool:
    head = operation.lstrip()[:6].upper()
    return head == "SELECT" and not any(slow in operation for slow in _SLOW_READS)


def _is_quick(operation: str) -> bool:
    """A statement a write transaction runs on the loop: no search, no DELETE (which may remove
    many rows), no DDL."""
    head = operation.split(None, 1)[0].upper()
    return head in _QUICK_WRITES and not any(slow in operation for slow in _SLOW_READS)


class _StreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapted: _AdaptedConnection = self._adapt_connection  # type: ignore[assignment]
        await adapted.queue_as_writer()
        adapted.inline = False  # rows fetched in the thread: the transaction stays there
        begin = adapted.take_begin()
        patience = adapted.be_patient()
        driver: Any = self._connection
        for statement in (patience, begin):
            if statement is not None:
                await driver._execute(driver._conn.execute, statement)
        return await super()._execute_async(operation, parameters)


class _AdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_open", "_patient", "_statements", "inline", "on_commit", "writes")
    _cursor_cls = _OneTripCursor
    _ss_cursor_cls = _StreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None  # a BEGIN not sent yet: it goes with the next statement
        self._open = False  # a transaction may be open in the thread
        self._patient = True  # busy_timeout is BUSY_TIMEOUT_MS (else 0)
        self.inline = False  # this transaction runs on the loop
        self.writes = False  # this transaction may write
        self.on_commit: Callable[[], None] | None = None  # set: writes may run on the loop
        self._statements = 0  # run on the loop

    def defer_begin(self, statement: str, *, readonly: bool) -> None:
        self._begin = statement
        self.writes = not readonly
        self.inline = readonly or self.on_commit is not None

    def ran_inline(self) -> bool:
        """Counts a statement run on the loop; True every `_YIELD_EVERY`-th: nothing awaits
        there, so a task running many statements would otherwise never let the loop go."""
        self._statements += 1
        return self._statements % _YIELD_EVERY == 0

    async def queue_as_writer(self) -> None:
        """Before a write transaction's BEGIN: waits for this process's writers ahead."""
        writer = self._connection.writer
        if self._begin is not None and self.writes and writer is not None:
            await writer.wait()

    def _end_writing(self) -> None:
        if (writer := self._connection.writer) is not None:
            writer.end()

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        if begin is not None:
            self._open = True  # before the trip: a cancelled one may still have begun
        return begin

    def runs_inline(self, operation: str, many: bool) -> bool:
        driver: _Connection = self._connection  # type: ignore[assignment]
        return (
            self.inline
            and not many
            and driver.idle
            and not self._execute_mutex.locked()
            and (_is_quick(operation) if self.writes else _is_read(operation))
        )

    def raw_inline(self) -> Any:
        """The driver's connection when this transaction runs on the loop, its BEGIN sent (None
        when it goes the usual way): for statements run on it directly (`platform/prepared.py`)."""
        driver: _Connection = self._connection  # type: ignore[assignment]
        if not (self.inline and driver.idle and not self._execute_mutex.locked()):
            return None
        raw = driver._conn
        if self._begin is not None:
            if self.writes and driver.writer is not None and not driver.writer.take():
                return None  # writers wait ahead: queue behind them the usual way
            prelude, begin = self.be_impatient(), self.take_begin()
            try:
                for statement in (prelude, begin):
                    if statement is not None:
                        raw.execute(statement)
            except _OPERATIONAL_ERRORS as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF not in LOCKED_CODES:
                    raise
                self.inline = False  # another writer holds the lock: the usual way
                if not raw.in_transaction:
                    self._begin = begin
                return None
        return raw

    def be_impatient(self) -> str | None:
        """The PRAGMA to send before a statement on the loop, if busy_timeout is not 0 yet."""
        if not self._patient:
            return None
        self._patient = False
        return _IMPATIENT

    def be_patient(self) -> str | None:
        """The PRAGMA to send before a statement in the thread, if busy_timeout is 0."""
        if self._patient:
            return None
        self._patient = True
        return _PATIENT

    def _end_inline(self, command: str) -> bool:
        """Ends a transaction that only read, on the loop; False when it must go the usual way."""
        driver: _Connection = self._connection  # type: ignore[assignment]
        if not (self.inline and driver.idle):
            return False
        self.inline = False
        if self._open:
            driver._conn.execute(command)
            self._open = False
        return True

    def commit(self) -> None:
        self._begin = None
        wrote = self._open and self.writes
        if not self._end_inline("COMMIT"):
            self.inline = False
            if self._open:
                super().commit()  # when it raises, the transaction stays open for the rollback
                self._open = False
        self._end_writing()
        if wrote and self.on_commit is not None:
            self.on_commit()

    def rollback(self) -> None:
        self._begin = None
        if not self._end_inline("ROLLBACK"):
            self.inline = False
            if self._open:
                super().rollback()  # when it raises, the connection is closed: see close()
                self._open = False
        self._end_writing()

    def close(self) -> None:
        self._end_writing()  # closing rolls back: the next writer may wait a moment for that
        super().close()

    def terminate(self) -> None:
        self._end_writing()
        super().terminate()


def begin(conn: Connection, statement: str, *, readonly: bool = False) -> None:
    """Starts a transaction with `statement` (e.g. `BEGIN IMMEDIATE`), sent with the first
    statement of the transaction; for SQLAlchemy's "begin" event. A `readonly` one reads on the
    loop; so does one that writes on a connection with `on_commit` set."""
    adapted = conn.connection.dbapi_connection
    if isinstance(adapted, _AdaptedConnection):
        adapted.defer_begin(statement, readonly=readonly)
    else:
        conn.exec_driver_sql(statement)


def on_commit(dbapi_connection: Any, committed: Callable[[], None]) -> None:
    """Lets the connection's write transactions run on the loop, `committed` called after each
    commit of one (which must keep the WAL checkpointed: the connection never does)."""
    if isinstance(dbapi_connection, _AdaptedConnection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        dbapi_connection.on_commit = committed


async def inline_connection(dbapi_connection: Any) -> Any:
    """The driver's connection of a transaction that runs on the loop, else None. A write
    transaction not begun yet first waits on the loop for this process's writers ahead, as a
    statement through SQLAlchemy does, so it runs there too once its turn comes."""
    if isinstance(dbapi_connection, _AdaptedConnection):
        await dbapi_connection.queue_as_writer()
        return dbapi_connection.raw_inline()
    return None


async def ran_inline(dbapi_connection: _AdaptedConnection) -> None:
    """After a statement run on `inline_connection`: lets the loop go now and then."""
    if dbapi_connection.ran_inline():
        await asyncio.sleep(0)


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        connection: Any = await_(_connect(*arg, **kw))
        return _AdaptedConnection(self, connection)


def _connect(database: Any, **kwargs: Any) -> aiosqlite.Connection:
    path = database.decode() if isinstance(database, bytes) else str(database)
    kwargs["check_same_thread"] = False  # read on the loop, written in the thread, never both
    opener = _open if sqlean is not None else sqlite3.connect
    connection = _Connection(partial(opener, path, **kwargs), 64)
    connection.writer = turn_for(path)
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
