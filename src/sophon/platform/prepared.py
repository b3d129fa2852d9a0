"""Hot reads on SQLite without SQLAlchemy's execution: one Core SELECT compiled once, run on a
read-only connection of its own, on the event loop.

A small authenticated GET spent most of its database time in SQLAlchemy, not in SQLite: checking
a connection out of the pool, the execution context, the result machinery, and the greenlet
bridge around each step (about 30 µs of SQLite work inside 300 µs). `SqliteReader.read` keeps the
part that matters — the statement compiled by SQLAlchemy for this dialect, its bound parameters
and result types processed by the column types' own processors (UTC datetimes, JSON, booleans) —
and runs it in autocommit mode: a lone SELECT is its own transaction, so it sees one committed
snapshot, as a read transaction would. Under WAL a reader never waits for a writer; when SQLite
makes it wait anyway (WAL recovery, an exclusive lock) it answers `None` at once (`busy_timeout`
0, the loop never blocks) and the caller reads the usual way, in the connection's thread.

Rows are tuples whose columns also read as attributes (`row.name`), like SQLAlchemy's `Row`.

`run` does the same for a Core statement of a session's transaction (an INSERT, an UPDATE ..
RETURNING, a SELECT) when that transaction runs on the event loop (`sqlite_driver.py`): on its
own connection, bound and read through the types' processors, its driver errors raised as
SQLAlchemy raises them, and seen by the engine's `after_cursor_execute` listeners (the tables
`changes.TableWatch` watches, statement counts) with what they read of an execution. Otherwise
(PostgreSQL, a transaction in the thread, a statement needing defaults computed or lists
expanded) it is `connection.execute`.

`detached` makes an ORM object of such a row's columns (`mapped_columns`) as a read through a
session leaves it once that session is closed, without the ORM's loading, identity map and
per-statement execution: for a hot read whose objects outlive their transaction anyway."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, TypeVar
from weakref import ref

from sqlalchemy import Column, Select, exc, inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import immutabledict

from sophon.platform import sqlite_driver

_Processor = Callable[[Any], Any] | None
_Model = TypeVar("_Model")


class _Prepared:
    __slots__ = ("collected", "compiled", "results", "row", "slots", "sql")

    def __init__(
        self, statement: Executable, dialect: Dialect, keys: Sequence[str] | None = None
    ) -> None:
        compiled: SQLCompiler = statement.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
        self.compiled = compiled
        self.sql = str(compiled)
        names: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors: dict[str, Callable[[Any], Any]] = {
            name: process
            for name, process in compiled._bind_processors.items()
            if callable(process)  # a sequence only for tuple types, which lists do not bind
        }
        # what `compiled.construct_params` looks up per bound name, worked out once: the value's
        # key, the bind parameter (its default when no value is given) and its processor; of
        # binds sharing a name, the last one, as construct_params leaves it
        bound = {name: bind for bind, name in compiled.bind_names.items()}
        self.slots = tuple((bound[name], name, processors.get(name)) for name in names)
        self.collected: dict[str, Any] = dict(compiled._collected_params or {})
        columns = compiled._result_columns
        self.results: tuple[_Processor, ...] = tuple(
            column.type._cached_result_processor(dialect, None) for column in columns
        )
        self.row = _row_type(tuple(column.keyname for column in columns))

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The statement's positional parameters, as `construct_params` and the binds'
        processors make them."""
        if self.collected:  # values given to the statement's `.params()`
            values = {**self.collected, **values}
        out = []
        for bind, name, process in self.slots:
            key = bind.key
            if key in values:
                value = values[key]
            elif name in values:
                value = values[name]
            elif bind.required:
                raise exc.InvalidRequestError(
                    f"A value is required for bind parameter {key!r}", code="cd3x"
                )
            else:
                value = bind.effective_value if bind.callable else bind.value
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        make, processors = self.row, self.results
        return [
            make(
                tuple(
                    value if process is None or value is None else process(value)
                    for process, value in zip(processors, row, strict=True)
                )
            )
            for row in raw
        ]


class Outcome:
    """What `run` returns: the statement's rows (RETURNING or SELECT) and rowcount."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: Sequence[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def all(self) -> Sequence[Any]:
        return self.rows


class _Execution:
    """What `after_cursor_execute` listeners read of an execution context."""

    __slots__ = ("compiled", "execution_options", "isdelete", "isinsert", "isupdate")

    def __init__(self, compiled: SQLCompiler, options: immutabledict[str, Any]) -> None:
        self.compiled = compiled
        self.execution_options = options
        self.isinsert, self.isupdate = compiled.isinsert, compiled.isupdate
        self.isdelete = compiled.isdelete


@lru_cache(maxsize=256)  # statements are module constants or cached themselves: a few dozen
def _prepare(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Prepared | None:
    """Compiled once per statement and bound names; None for one `run` leaves to SQLAlchemy."""
    prepared = _Prepared(statement, dialect, keys)
    compiled = prepared.compiled
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.post_compile_params
        or compiled.literal_execute_params
        or compiled.escaped_bind_names
        or compiled.positiontup is None
    ):
        return None  # column defaults or expanded lists: SQLAlchemy's execution computes them
    return prepared


_CONNECTION = "sophon.prepared.connection"
"""Session info: (transaction, its connection), so that a transaction's later statements skip
SQLAlchemy's async bridge to ask the session for the connection it already holds. The
transaction is held weakly: it refers to the session, and a cycle would leave every session to
the garbage collector."""


async def run(db: AsyncSession, statement: Executable, values: dict[str, Any]) -> Outcome:
    """Runs a Core statement in the session's transaction (see the module's docstring)."""
    session = db.sync_session
    transaction = session.get_transaction()
    known = session.info.get(_CONNECTION)
    sync: Connection | None
    connection: AsyncConnection | None = None
    if known is not None and transaction is not None and known[0]() is transaction:
        sync = known[1]
    else:
        connection = await db.connection()
        sync = connection.sync_connection
        session.info[_CONNECTION] = (ref(session.get_transaction()), sync)
    if sync is not None and sync.dialect.name == "sqlite":
        adapted = sync.connection.dbapi_connection
        raw = await sqlite_driver.inline_connection(adapted)
        prepared = None if raw is None else _prepare(statement, tuple(values), sync.dialect)
        if prepared is not None:
            outcome = _run(sync, raw, prepared, statement, values)
            await sqlite_driver.ran_inline(adapted)  # type: ignore[arg-type]
            return outcome
    if connection is None:
        connection = await db.connection()
    result = await connection.execute(statement, values)
    rowcount = result.rowcount
    return Outcome(result.all() if result.returns_rows else (), rowcount)


def _run(
    sync: Connection, raw: Any, prepared: _Prepared, statement: Executable, values: dict[str, Any]
) -> Outcome:
    parameters = prepared.parameters(values)
    try:
        cursor = raw.execute(prepared.sql, parameters)
        try:
            rows = prepared.rows(cursor.fetchall()) if cursor.description else []
            rowcount = cursor.rowcount
        finally:
            cursor.close()
    except sync.dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            prepared.sql, parameters, error, sync.dialect.loaded_dbapi.Error, dialect=sync.dialect
        ) from error
    if sync._has_events or sync.engine._has_events:
        options = sync.get_execution_options().union(statement._execution_options)
        execution = _Execution(prepared.compiled, options)
        sync.dispatch.after_cursor_execute(sync, cursor, prepared.sql, parameters, execution, False)
    return Outcome(rows, rowcount)


def _row_type(keys: tuple[str, ...]) -> Callable[[tuple[Any, ...]], Any]:
    attributes: dict[str, Any] = {key: property(itemgetter(i)) for i, key in enumerate(keys)}
    return type("PreparedRow", (tuple,), {"__slots__": (), **attributes})


_MAPPINGS: dict[type[Any], tuple[tuple[str, ...], tuple[Column[Any], ...]]] = {}
"""Per mapped class (a fixed set): its column attributes' names and table columns."""


def _mapping(model: type[Any]) -> tuple[tuple[str, ...], tuple[Column[Any], ...]]:
    found = _MAPPINGS.get(model)
    if found is None:
        attributes = inspect(model).column_attrs
        keys = tuple(a.key for a in attributes)
        found = _MAPPINGS[model] = keys, tuple(a.columns[0] for a in attributes)
    return found


def mapped_columns(model: type[Any]) -> tuple[Column[Any], ...]:
    """The table columns of `model`'s attributes, in the order `detached` reads them."""
    return _mapping(model)[1]


def detached(model: type[_Model], values: Sequence[Any]) -> _Model:
    """A `model` object of `values` (one per `mapped_columns(model)`): loaded, unchanged and in
    no session, as a session's read leaves it after that session closed."""
    instance: _Model = inspect(model).class_manager.new_instance()
    instance.__dict__.update(zip(_mapping(model)[0], values, strict=True))
    make_transient_to_detached(instance)
    return instance


class SqliteReader:
    """Reads of one SQLite database file on the event loop (see the module's docstring)."""

    def __init__(self, path: str, dialect: Dialect) -> None:
        self.path = path
        self.dialect = dialect
        self._connection: Any = None
        self._errors = sqlite_driver.operational_errors()

    def read(self, statement: Select[Any], values: dict[str, Any]) -> list[Any] | None:
        """The rows, or None when SQLite would make the read wait or the statement needs
        SQLAlchemy's execution (read the usual way then)."""
        prepared = _prepare(statement, tuple(values), self.dialect)
        if prepared is None:
            return None
        try:
            if self._connection is None:
                self._connection = sqlite_driver.open_reader(self.path)
            raw = self._connection.execute(prepared.sql, prepared.parameters(values)).fetchall()
        except self._errors as error:
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in sqlite_driver.LOCKED_CODES:
                return None
            raise
        return prepared.rows(raw)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def reader_for(url: str, dialect: Dialect) -> SqliteReader | None:
    """A reader for a SQLite file database; None for anything else (PostgreSQL, `:memory:`)."""
    path = sqlite_driver.file_path(url) if dialect.name == "sqlite" else None
    return None if path is None else SqliteReader(path, dialect)
