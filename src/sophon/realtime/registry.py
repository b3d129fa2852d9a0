"""Who is connected: connections by token, by user, by tenant, by group and by permission, so an
event finds its recipients without scanning every connection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sophon.realtime.connection import Connection

K = TypeVar("K")


class Registry:
    """One per hub; the server keeps the token and user indexes across hubs."""

    def __init__(self, indexed_permissions: Iterable[str] = ()) -> None:
        self._indexed = tuple(indexed_permissions)
        self._by_tenant: dict[str, set[Connection]] = defaultdict(set)
        self._by_user: dict[tuple[str, str], set[Connection]] = defaultdict(set)
        self._groups: dict[tuple[str, str], set[Connection]] = defaultdict(set)
        self._by_permission: dict[tuple[str, str], set[Connection]] = defaultdict(set)

    def add(self, conn: Connection) -> None:
        self._by_tenant[conn.tenant_id].add(conn)
        if conn.user_id:
            self._by_user[(conn.tenant_id, conn.user_id)].add(conn)
        self._index_permissions(conn)

    def remove(self, conn: Connection) -> None:
        _discard(self._by_tenant, conn.tenant_id, conn)
        if conn.user_id:
            _discard(self._by_user, (conn.tenant_id, conn.user_id), conn)
        for group in conn.groups:
            _discard(self._groups, (conn.tenant_id, group), conn)
        for name in self._indexed:
            _discard(self._by_permission, (conn.tenant_id, name), conn)

    def refresh(self, conn: Connection) -> None:
        """After the connection's principal changed (roles, permissions)."""
        for name in self._indexed:
            _discard(self._by_permission, (conn.tenant_id, name), conn)
        self._index_permissions(conn)

    def _index_permissions(self, conn: Connection) -> None:
        granted = {p.value for p in conn.principal.permissions}
        for name in self._indexed:
            if name in granted:
                self._by_permission[(conn.tenant_id, name)].add(conn)

    def join(self, conn: Connection, group: str) -> None:
        self._groups[(conn.tenant_id, group)].add(conn)

    def leave(self, conn: Connection, group: str) -> None:
        _discard(self._groups, (conn.tenant_id, group), conn)

    def tenant(self, tenant_id: str) -> Iterator[Connection]:
        yield from tuple(self._by_tenant.get(tenant_id, ()))

    def users(self, tenant_id: str, user_ids: Iterable[str]) -> Iterator[Connection]:
        for user_id in user_ids:
            yield from tuple(self._by_user.get((tenant_id, user_id), ()))

    def group(self, tenant_id: str, group: str) -> Iterator[Connection]:
        yield from tuple(self._groups.get((tenant_id, group), ()))

    def holders(self, tenant_id: str, permission: str) -> Iterator[Connection]:
        yield from tuple(self._by_permission.get((tenant_id, permission), ()))

    def __len__(self) -> int:
        return sum(len(conns) for conns in self._by_tenant.values())


def _discard(index: dict[K, set[Connection]], key: K, conn: Connection) -> None:
    conns = index.get(key)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del index[key]
