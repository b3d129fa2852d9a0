"""Knowing, without asking the database, that some tables may have changed.

A `TableWatch` counts writes to its tables: the count moves when an INSERT, UPDATE or DELETE on
one of them (built with SQLAlchemy, not raw SQL text) runs, and again when that connection goes
back to the pool, which is after its commit. A value computed from those tables, stamped with the
count read *before* its first read, is therefore stale as soon as the count differs: whatever the
reader saw, a write it may have missed has moved the count since. Only writes made through this
process's engine are seen, so a watch is only trustworthy where this process is the database's
one writer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_ACTIVITY = "sophon_activity_only"
ACTIVITY_ONLY = {_ACTIVITY: True}
"""Execution options for a write that only records activity (a last-seen time), which no cached
value depends on: watches let it pass without moving their count."""


class TableWatch:
    """A count that moves with every write to `tables` (see the module's docstring)."""

    def __init__(self, tables: Iterable[str]) -> None:
        self.tables = frozenset(tables)
        self.count = 0


_DIRTY = "sophon_watches_dirty"  # on the connection until it is checked in: the watches written


class Watches:
    """The watches of one engine, behind one listener of each kind: a statement or a check-in
    costs one call whatever the number of watches (each cache keeps one)."""

    def __init__(self, engine: Engine) -> None:
        self._all: list[TableWatch] = []
        self._by_table: dict[str, list[TableWatch]] = {}
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine.pool, "checkin", self._checked_in)

    def watch(self, tables: Iterable[str]) -> TableWatch:
        watch = TableWatch(tables)
        self._all.append(watch)
        for table in watch.tables:
            self._by_table.setdefault(table, []).append(watch)
        return watch

    def _executed(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None or not (context.isinsert or context.isupdate or context.isdelete):
            return
        if context.execution_options.get(_ACTIVITY):
            return
        table = getattr(getattr(context.compiled, "statement", None), "table", None)
        written = self._all if table is None else self._by_table.get(getattr(table, "name", ""))
        if not written:
            return
        for watch in written:
            watch.count += 1
        conn.info.setdefault(_DIRTY, set()).update(written)

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        for watch in record.info.pop(_DIRTY, ()) if record is not None else ():
            watch.count += 1
