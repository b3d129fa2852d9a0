"""`Idempotency-Key`: a retried request with the same key gets the first response again and
creates nothing new. The key is claimed inside the request's transaction, so a concurrent twin
waits for the first to commit and then replays it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.errors import Conflict, ValidationFailed
from sophon.platform.idempotency_models import IdempotencyRecord
from sophon.platform.ids import new_id

MAX_KEY_LENGTH = 200


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def claim(
    db: AsyncSession, *, owner: str, scope: str, key: str, body_hash: str
) -> IdempotencyRecord | dict[str, Any]:
    """The stored response when this key was used before (same request), else a fresh record to
    fill with `complete`. The same key with a different request is a 409."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            {"header": "Idempotency-Key"},
        )
    found = await _find(db, owner, scope, key)
    if found is None:
        record = IdempotencyRecord(
            id=new_id("idem"),
            owner=owner,
            scope=scope,
            key=key,
            request_hash=body_hash,
            status_code=0,
            response={},
        )
        try:
            async with db.begin_nested():
                db.add(record)
                await db.flush()
            return record
        except IntegrityError:
            found = await _find(db, owner, scope, key)
            if found is None:
                raise
    if found.request_hash != body_hash:
        raise Conflict(
            "This Idempotency-Key was used for a different request.", {"idempotencyKey": key}
        )
    return dict(found.response)


def complete(record: IdempotencyRecord, status_code: int, response: dict[str, Any]) -> None:
    record.status_code = status_code
    record.response = response


async def _find(db: AsyncSession, owner: str, scope: str, key: str) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.owner == owner,
        IdempotencyRecord.scope == scope,
        IdempotencyRecord.key == key,
    )
    return await db.scalar(stmt.execution_options(populate_existing=True))
