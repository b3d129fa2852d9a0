"""Hot lists read with SQLAlchemy Core: a tenant's rows of one table, a keyset page at a time.

`Paginator.page` takes any ORM select, which is what most lists need; but building the select,
its tenant criteria and its cache key on every request, then making ORM objects of the rows, cost
more than the rest of a small authenticated GET together. A `TenantList` builds its two
statements (first page, page after a cursor) once, with the tenant, the cursor and the limit as
bound parameters, so SQLAlchemy compiles each once per dialect; a page is one Core query whose
rows read like the model (`row.name`), and its cursors are `Paginator.page`'s, so a list can move
from one to the other without breaking a client's cursor.

Tenant isolation stays in the data layer: the tenant is the session's (set by the auth guard),
and a session without one sees no rows, as with the ORM filter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.errors import InvalidRequest
from sophon.platform.memo import DATABASE_INFO
from sophon.platform.pagination import PageParams, Paginator
from sophon.platform.tenancy import session_tenant

if TYPE_CHECKING:
    from sophon.platform.db import Database

_BAD_CURSOR = "The cursor is invalid or belongs to another list."


class TenantList:
    """The session tenant's rows of `table` that meet `where`, ordered by the unique column `key`
    (newest first by default: ids are time-ordered)."""

    def __init__(
        self,
        table: Table,
        *where: ColumnElement[bool],
        key: str = "id",
        descending: bool = True,
    ) -> None:
        column = table.c[key]
        base = select(table).where(table.c.tenant_id == bindparam("tenant"), *where)
        after = column < bindparam("after") if descending else column > bindparam("after")
        order = column.desc() if descending else column.asc()
        self.key = key
        self._first: Select[Any] = base.order_by(order).limit(bindparam("limit"))
        self._next: Select[Any] = base.where(after).order_by(order).limit(bindparam("limit"))

    async def page(
        self, db: AsyncSession, paginator: Paginator, params: PageParams, name: str
    ) -> tuple[list[Any], str | None, bool]:
        """One page: the rows, the next page's cursor (None on the last page), whether more
        follow. The cursor is bound to the list `name` in the session's tenant (scope
        `name:tenant`), so the route needs nothing but the session to call it."""
        tenant = session_tenant(db.sync_session)
        if tenant is None:
            return [], None, False
        scope = f"{name}:{tenant}"
        values: dict[str, Any] = {"tenant": tenant, "limit": params.limit + 1}
        statement = self._first
        if params.cursor:
            after = paginator.codec.decode(scope, params.cursor)
            if len(after) != 1 or not isinstance(after[0], str):
                raise InvalidRequest(_BAD_CURSOR)
            values["after"] = after[0]
            statement = self._next
        sync = db.sync_session
        database: Database | None = sync.info.get(DATABASE_INFO)
        if database is None or sync.in_transaction():  # in the transaction, to see its writes
            # on its connection: Session.execute would route a Core select through the ORM's
            # loading too
            connection = await db.connection()
            rows: list[Any] = list((await connection.execute(statement, values)).all())
        else:  # nothing to be consistent with: one read of its own, no session work
            rows = await database.read(statement, values)
        more = len(rows) > params.limit
        rows = rows[: params.limit]
        cursor = paginator.codec.encode(scope, [getattr(rows[-1], self.key)]) if more else None
        return rows, cursor, more
