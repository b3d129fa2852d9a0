"""The database: async engine and sessions for SQLite (WAL) and PostgreSQL, the declarative base
and the column types every domain shares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, Row, Select, String, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from sophon.platform import checkpoints, prepared, sqlite_driver
from sophon.platform.changes import TableWatch, Watches
from sophon.platform.clock import utcnow
from sophon.platform.errors import DomainError
from sophon.platform.events import EventBus, attach_bus
from sophon.platform.memo import DATABASE_INFO
from sophon.platform.tenancy import set_session_tenant

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes and always returns them aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class Timestamped:
    """`created_at`/`updated_at` maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def id_column(**kwargs: Any) -> Mapped[str]:
    return mapped_column(String(40), primary_key=True, **kwargs)


def create_engine(url: str, *, pool: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            module=sqlite_driver.dbapi_module(),
            connect_args={"timeout": 30},
            **({} if pool else {"poolclass": NullPool}),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    options: dict[str, Any] = {"pool_pre_ping": True}
    if pool:
        options.update(pool_size=10, max_overflow=20)
    else:
        options["poolclass"] = NullPool
    return create_async_engine(url, **options)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN itself, so writers can take the lock up front
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={sqlite_driver.BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    """Write transactions start with BEGIN IMMEDIATE: SQLite allows one writer, and a deferred
    transaction that reads first and writes later fails at once (no waiting) when another writer
    committed in between. Read-only transactions stay deferred and run concurrently under WAL."""
    readonly = bool(conn.get_execution_options().get("readonly"))
    sqlite_driver.begin(conn, f"BEGIN {'DEFERRED' if readonly else 'IMMEDIATE'}", readonly=readonly)


AUDIT_KEY_INFO = "sophon.audit_key"
"""Session info: the key the audit chain is sealed with (`sophon.audit.chain`)."""


def _end(session: Session, commit: bool) -> None:
    """Commits (when `commit`) and closes, in one pass into SQLAlchemy's async bridge rather than
    the two of `AsyncSession.commit` and `close`."""
    try:
        if commit:
            session.commit()
    finally:
        session.close()


class Database:
    """Owns the engine and hands out sessions; one per Gateway process."""

    def __init__(
        self, url: str, bus: EventBus | None = None, *, audit_key: bytes | None = None
    ) -> None:
        self.url = url
        self.bus = bus
        self.audit_key = audit_key
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(
            self.engine.execution_options(readonly=True), expire_on_commit=False
        )
        self._reader = self.engine.sync_engine.execution_options(readonly=True)
        self._inline_reader = prepared.reader_for(url, self.engine.dialect)
        self._watches = Watches(self.engine.sync_engine)
        # its write transactions run on the event loop, checkpointed in a thread
        self.checkpoints = checkpoints.for_url(url)
        if self.checkpoints is not None:
            event.listen(self.engine.sync_engine, "connect", self.checkpoints.attach)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(
        self, *, readonly: bool = False, tenant_id: str | None = None
    ) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block succeeds, rolls back when it raises, except
        for a refusal that asks to keep its writes (e.g. the audit entry of a failed login)."""
        maker = self.read_sessions if readonly else self.sessions
        session = maker()
        sync = session.sync_session
        set_session_tenant(sync, tenant_id)
        sync.info[DATABASE_INFO] = self
        if self.audit_key is not None:
            sync.info[AUDIT_KEY_INFO] = self.audit_key
        if self.bus is not None:
            attach_bus(session, self.bus)
        try:
            yield session
        except DomainError as error:
            await greenlet_spawn(_end, sync, error.keep_writes)
            raise
        except BaseException:
            await session.close()
            raise
        if not (sync.in_transaction() or sync.identity_map or sync.new or sync.deleted):
            # never used (a cached credential, a read through `Database.read`): nothing to
            # commit or close, and skipping both saves two passes into SQLAlchemy
            return
        await greenlet_spawn(_end, sync, True)

    async def read(self, statement: Select[Any], values: dict[str, Any]) -> list[Any]:
        """The rows of one Core SELECT, outside any session (a read of its own). On a SQLite file,
        compiled once and run on the event loop (`platform/prepared.py`); otherwise, or when
        SQLite would make it wait, a pooled connection, one statement, back to the pool, in one
        pass into SQLAlchemy's async bridge instead of the four a session's connection, execute,
        commit and close take. Rows read like SQLAlchemy's (`row.name`, `row[0]`)."""
        if self._inline_reader is not None:
            rows = self._inline_reader.read(statement, values)
            if rows is not None:
                return rows
        found: list[Row[Any]] = await greenlet_spawn(self._read, statement, values)
        return found

    def _read(self, statement: Select[Any], values: dict[str, Any]) -> list[Row[Any]]:
        with self._reader.connect() as connection:
            return list(connection.execute(statement, values).all())

    async def uninterrupted(
        self, work: Callable[[AsyncSession], Awaitable[T]], *, tenant_id: str | None = None
    ) -> T:
        """Runs `work` in one write transaction that cancelling the caller does not cut short: the
        transaction ends (commit or rollback) first, then the cancellation goes on. For jobs that
        a shutdown or a cancel may interrupt: a statement cut off mid-flight leaves SQLite's write
        lock with a connection nobody closes, and every other writer waits out busy_timeout."""

        async def run() -> T:
            async with self.transaction(tenant_id=tenant_id) as db:
                return await work(db)

        unit = asyncio.ensure_future(run())
        try:
            return await asyncio.shield(unit)
        except asyncio.CancelledError:
            await asyncio.wait({unit})
            raise

    def watch(self, tables: Iterable[str]) -> TableWatch:
        """Counts this process's writes to `tables` (see TableWatch)."""
        return self._watches.watch(tables)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._inline_reader is not None:
            self._inline_reader.close()
        await self.engine.dispose()
        if self.checkpoints is not None:
            await self.checkpoints.close()
