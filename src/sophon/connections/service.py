"""A tenant's connections: create, read, delete, rotate and test, each audited. The secret is
sealed by the vault (associated data: the row) and only its mask is ever returned. A change is
announced (`on_change`) once it commits, so whatever resolved the old secret picks the new one
up."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Select, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.connections.models import Connection, secret_aad
from sophon.connections.schemas import ConnectionIn, ConnectionTestOut
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.http import OutboundRefused
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.platform.vault import Vault, VaultError, mask_secret

ORDER = [Connection.name]
Changed = Callable[[], None] | None
ClientFactory = Callable[[], httpx.AsyncClient]
NO_TEST_URL = (
    "A manual credential can only be tested against a URL of its service: "
    "set testUrl to check it; nothing was sent."
)


def connections() -> Select[Connection]:
    return select(Connection)


async def get(db: AsyncSession, connection_id: str) -> Connection:
    row = await db.get(Connection, connection_id)
    if row is None:  # another tenant's row is filtered out of the session: also 404
        raise NotFound("The connection does not exist.", {"id": connection_id})
    return row


def _check(body: ConnectionIn) -> None:
    if body.auth_type == "basic" and not body.username:
        raise ValidationFailed.on("body.username", "basic credentials need a username.")
    if body.auth_type != "apiKey" and body.header:
        raise ValidationFailed.on(
            "body.header", "Only an apiKey credential is sent in a header of its own."
        )
    if body.test_url is not None:
        parts = urlsplit(body.test_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed.on("body.testUrl", "testUrl must be an http(s) URL.")


def _seal(row: Connection, vault: Vault, secret: str) -> None:
    row.secret = vault.encrypt(secret, secret_aad(row.id))
    row.secret_mask = mask_secret(secret)


def _summary(row: Connection) -> dict[str, Any]:
    return {"name": row.name, "service": row.service, "authType": row.auth_type,
            "testUrl": row.test_url}  # fmt: skip


def _after_commit(db: AsyncSession, on_change: Changed) -> None:
    if on_change is not None:
        callback = on_change
        event.listen(db.sync_session, "after_commit", lambda _s: callback(), once=True)


@audited("connection.create")
async def create(
    db: AsyncSession, principal: Principal, vault: Vault, body: ConnectionIn, on_change: Changed
) -> Connection:
    _check(body)
    taken = await db.scalar(select(Connection.id).where(Connection.name == body.name))
    if taken is not None:
        raise Conflict(f"A connection named {body.name!r} already exists.", {"name": body.name})
    row = Connection(
        id=new_id("con"),
        name=body.name,
        service=body.service,
        auth_type=body.auth_type,
        username=body.username,
        header=body.header,
        test_url=body.test_url,
        created_by=principal.user_id,
    )
    _seal(row, vault, body.secret)
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(
            f"A connection named {body.name!r} already exists.", {"name": body.name}
        ) from None
    await audit.record(
        db, principal, "connection.create", ("connection", row.id), details=_summary(row)
    )
    _after_commit(db, on_change)
    return row


@audited("connection.delete")
async def delete(
    db: AsyncSession, principal: Principal, connection_id: str, on_change: Changed
) -> None:
    row = await get(db, connection_id)
    summary = _summary(row)
    await db.delete(row)
    await db.flush()
    await audit.record(
        db, principal, "connection.delete", ("connection", connection_id), details=summary
    )
    _after_commit(db, on_change)


@audited("connection.rotate")
async def rotate(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    connection_id: str,
    secret: str,
    on_change: Changed,
) -> Connection:
    """Replaces the secret; the old one is gone (no grace period: a manual credential is
    rotated at the vendor first, then pasted here)."""
    row = await get(db, connection_id)
    _seal(row, vault, secret)
    row.rotated_at = row.updated_at = utcnow()
    row.last_test_ok, row.last_error = None, None
    await db.flush()
    await audit.record(
        db, principal, "connection.rotate", ("connection", row.id), details={"name": row.name}
    )
    _after_commit(db, on_change)
    return row


def auth_headers(row: Connection, secret: str) -> dict[str, str]:
    if row.auth_type == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    if row.auth_type == "basic":
        pair = f"{row.username or ''}:{secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {row.header or "X-API-Key": secret}


async def _call(row: Connection, secret: str, client: ClientFactory) -> ConnectionTestOut:
    assert row.test_url is not None
    started = time.monotonic()
    try:
        async with client() as http:
            response = await http.get(row.test_url, headers=auth_headers(row, secret))
    except OutboundRefused as refused:
        error: str | None = refused.message
        status = None
    except httpx.HTTPError as exc:
        error, status = f"The request failed: {str(exc) or type(exc).__name__}", None
    else:
        status = response.status_code
        error = None
        if status in (401, 403):
            error = f"The service refused the credential (HTTP {status})."
        elif status >= 400:
            error = f"The service answered HTTP {status}."
    latency = round((time.monotonic() - started) * 1000, 1)
    return ConnectionTestOut(
        ok=error is None, tested=True, status_code=status, latency_ms=latency, error=error,
        tested_at=utcnow(),
    )  # fmt: skip


@audited("connection.test")
async def test(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    connection_id: str,
    client: ClientFactory,
) -> ConnectionTestOut:
    """Calls `testUrl` with the credential through the outbound guard: a 2xx/3xx answer passes,
    401/403 means the credential was refused. Without a test URL nothing is sent and the answer
    says so (`tested: false`)."""
    row = await get(db, connection_id)
    try:
        secret = vault.decrypt(row.secret, secret_aad(row.id))
    except VaultError as exc:
        out = ConnectionTestOut(
            ok=False, tested=False, error=f"The stored secret {exc}.", tested_at=utcnow()
        )
    else:
        if row.test_url is None:
            out = ConnectionTestOut(ok=False, tested=False, error=NO_TEST_URL, tested_at=utcnow())
        else:
            out = await _call(row, secret, client)
    if out.tested:
        row.last_tested_at, row.last_test_ok = out.tested_at, out.ok
        row.last_error = out.error[:500] if out.error else None
        await db.flush()
    await audit.record(
        db, principal, "connection.test", ("connection", row.id),
        outcome="success" if out.ok else "failure",
        details={"tested": out.tested, "statusCode": out.status_code, "error": out.error},
    )  # fmt: skip
    return out
