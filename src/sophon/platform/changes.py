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
    def __init__(self, engine: Engine, tables: Iterable[str]) -> None:
        self.tables = frozenset(tables)
        self.count = 0
        self._dirty = f"sophon_watch_{id(self)}"  # on the connection until it is checked in
        event.listen(engine, "after_cursor_execute", self._executed)
        event.listen(engine.pool, "checkin", self._checked_in)

    def _executed(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is None or not (context.isinsert or context.isupdate or context.isdelete):
            return
        if context.execution_options.get(_ACTIVITY):
            return
        table = getattr(getattr(context.compiled, "statement", None), "table", None)
        if table is not None and getattr(table, "name", None) not in self.tables:
            return
        self.count += 1
        conn.info[self._dirty] = True

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(self._dirty, False):
            self.count += 1
