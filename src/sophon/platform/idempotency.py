"""`Idempotency-Key`: a retried request with the same key gets the first response again and
creates nothing new. The key is claimed inside the request's transaction, so a concurrent twin
waits for the first to commit and then replays it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform import prepared
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, ValidationFailed
from sophon.platform.idempotency_models import IdempotencyRecord
from sophon.platform.ids import new_id
from sophon.platform.tenancy import CrossTenantWrite, session_tenant

MAX_KEY_LENGTH = 200
_RECORDS = cast(Table, IdempotencyRecord.__table__)
_FIND: Select[Any] = select(_RECORDS.c.request_hash, _RECORDS.c.response).where(
    _RECORDS.c.tenant_id == bindparam("tenant"),
    _RECORDS.c.owner == bindparam("owner"),
    _RECORDS.c.scope == bindparam("scope"),
    _RECORDS.c.key == bindparam("key"),
)


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """A request's `Idempotency-Key` (checked when made), to take in the request's transaction."""

    owner: str
    scope: str
    key: str
    body_hash: str

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise ValidationFailed(
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                {"header": "Idempotency-Key"},
            )

    async def take(
        self, db: AsyncSession, status_code: int, response: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Records `response` as this key's answer unless the key was used before: None when it
        is recorded now (the caller then does the work the response describes, in the same
        transaction), else the first response (same request; a different one is a 409). One
        statement when the key is new."""
        tenant = session_tenant(db.sync_session)
        if tenant is None:
            raise CrossTenantWrite("IdempotencyRecord created outside a tenant")
        row = {
            "id": new_id("idem"),
            "tenant_id": tenant,
            "owner": self.owner,
            "scope": self.scope,
            "key": self.key,
            "request_hash": self.body_hash,
            "status_code": status_code,
            "response": response,
            "created_at": utcnow(),
        }
        # a twin's uncommitted insert makes this one wait for it, then do nothing
        dialect = db.sync_session.get_bind().dialect.name
        if (await prepared.run(db, _insert(dialect), row)).first() is not None:
            return None
        first = await self.replay(db)
        if first is None:  # pragma: no cover - the conflict was this key's row
            raise RuntimeError("idempotency record vanished")
        return first

    async def replay(self, db: AsyncSession) -> dict[str, Any] | None:
        """The first response to this key, None if the key is new; a 409 if it was used for a
        different request."""
        where = {
            "tenant": session_tenant(db.sync_session),
            "owner": self.owner,
            "scope": self.scope,
            "key": self.key,
        }
        found = (await (await db.connection()).execute(_FIND, where)).first()
        if found is None:
            return None
        if found.request_hash != self.body_hash:
            raise Conflict(
                "This Idempotency-Key was used for a different request.",
                {"idempotencyKey": self.key},
            )
        return dict(found.response)


@lru_cache(maxsize=4)
def _insert(dialect: str) -> Insert:
    """The record's INSERT, doing nothing (no row returned) when the key is taken."""
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return build(_RECORDS).on_conflict_do_nothing().returning(_RECORDS.c.id)
