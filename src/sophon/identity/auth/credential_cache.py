"""Resolved credentials kept in memory, so a request with a credential seen before skips the JWT
check and the identity lookups.

An entry is used only while no write to an identity table (users, tenants, memberships, roles,
role assignments, sessions, tokens) has happened since it was resolved — a `TableWatch` tells —
and while its deadlines hold. Revoking a session or token, suspending a user or changing a role
therefore takes effect on the very next request, as without the cache. Refusals are never kept:
they always come from the database, with its precise reason. The watch only sees this process's
writes, so the Gateway keeps the cache only on SQLite, where it is the database's one writer."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime

from sophon.identity.auth.principals import Authenticated
from sophon.identity.models import ApiToken, AuthSession, Membership, Role, RoleAssignment, User
from sophon.platform.changes import TableWatch
from sophon.tenants.models import Tenant

IDENTITY_TABLES = frozenset(
    model.__tablename__
    for model in (User, Tenant, Membership, Role, RoleAssignment, AuthSession, ApiToken)
)


class CredentialCache:
    def __init__(self, watch: TableWatch, capacity: int = 10_000) -> None:
        self._watch = watch
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[int, Authenticated]] = OrderedDict()

    @property
    def generation(self) -> int:
        """Read before resolving a credential and give it back to `put`."""
        return self._watch.count

    @staticmethod
    def key(credential: str, tenant_slug: str | None) -> str:
        # a digest, so the cache holds no usable secret
        return hashlib.sha256(f"{tenant_slug or ''}\n{credential}".encode()).hexdigest()

    def get(self, key: str, now: datetime) -> Authenticated | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        generation, found = entry
        if generation != self._watch.count or not found.usable(now):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found

    def put(self, key: str, found: Authenticated, generation: int) -> None:
        if generation != self._watch.count:
            return  # identity changed while it was being resolved
        self._entries[key] = (generation, found)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
