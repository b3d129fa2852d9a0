"""Values read from the database, kept in memory until a write may have changed them: what every
turn or request would otherwise read again though it rarely changes (the ops state, a tenant's
provider plan, an agent's persona files).

A `Memo` names the tables its values come from. Per `Database` it keeps a `TableWatch` on them
and stamps each value with the watch's count read before loading it; a value whose stamp
differs from the count is loaded again (see `changes.TableWatch`). A watch sees only this
process's writes: on SQLite this process is the one writer, so a value stays until a write;
where other processes may write (PostgreSQL replicas) a value is also at most `SHARED_TTL`
seconds old, so another replica's change shows within that time. A session that does not come
from `Database.transaction` (no database in its info) is not cached."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from sophon.platform.changes import TableWatch

if TYPE_CHECKING:
    from sophon.platform.db import Database

V = TypeVar("V")
DATABASE_INFO = "sophon.database"
"""Session info: the `Database` whose transaction the session is."""
SHARED_TTL = 1.0


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    stamp: int
    at: float


class _PerDatabase(Generic[V]):
    def __init__(self, watch: TableWatch, ttl: float | None) -> None:
        self.watch = watch
        self.ttl = ttl
        self.values: OrderedDict[Hashable, _Entry[V]] = OrderedDict()


class Memo(Generic[V]):
    """`ttl`: a value is also at most this old (seconds), whoever writes: for values that
    change with every write of busy tables, where a short-lived view is good enough."""

    def __init__(self, tables: Iterable[str], size: int = 1024, ttl: float | None = None) -> None:
        self.tables = frozenset(tables)
        self.size = size
        self.ttl = ttl
        self._by_database: WeakKeyDictionary[Database, _PerDatabase[V]] = WeakKeyDictionary()

    def _of(self, session: Session) -> _PerDatabase[V] | None:
        database: Database | None = session.info.get(DATABASE_INFO)
        if database is None:
            return None
        found = self._by_database.get(database)
        if found is None:
            ttl = (
                self.ttl
                if database.dialect == "sqlite"
                else min(self.ttl or SHARED_TTL, SHARED_TTL)
            )
            found = self._by_database[database] = _PerDatabase(database.watch(self.tables), ttl)
        return found

    async def get(
        self,
        db: AsyncSession,
        key: Hashable,
        load: Callable[[], Awaitable[V]],
        keep: Callable[[V], bool] | None = None,
    ) -> V:
        """The value for `key`, loaded with `load` (reading through `db`) when not fresh; a
        loaded value `keep` refuses is returned but not kept."""
        memo = self._of(db.sync_session)
        if memo is None:
            return await load()
        hit = _fresh(memo, key)
        if hit is not None:
            return hit.value
        stamp = memo.watch.count
        value = await load()
        if keep is None or keep(value):
            _store(memo, key, value, stamp, self.size)
        return value

    def peek(self, database: Database, key: Hashable) -> V | None:
        """The value for `key` while one is fresh, looked up without a session; else None."""
        memo = self._by_database.get(database)
        hit = None if memo is None else _fresh(memo, key)
        return None if hit is None else hit.value

    def get_sync(self, session: Session, key: Hashable, load: Callable[[], V]) -> V:
        """`get` for code that runs inside a synchronous session (e.g. a commit hook)."""
        memo = self._of(session)
        if memo is None:
            return load()
        hit = _fresh(memo, key)
        if hit is not None:
            return hit.value
        stamp = memo.watch.count
        value = load()
        _store(memo, key, value, stamp, self.size)
        return value


def _fresh(memo: _PerDatabase[V], key: Hashable) -> _Entry[V] | None:
    hit = memo.values.get(key)
    if (
        hit is None
        or hit.stamp != memo.watch.count
        or (memo.ttl is not None and time.monotonic() - hit.at >= memo.ttl)
    ):
        return None
    memo.values.move_to_end(key)
    return hit


def _store(memo: _PerDatabase[V], key: Hashable, value: V, stamp: int, size: int) -> None:
    memo.values[key] = _Entry(value, stamp, time.monotonic())
    memo.values.move_to_end(key)
    while len(memo.values) > size:
        memo.values.popitem(last=False)
