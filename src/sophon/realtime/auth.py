"""Who opens a hub connection: the REST credentials (JWT or `sk_` token) from the
`access_token` query parameter (browsers cannot set WebSocket headers) or the Authorization
header, checked by the same code as REST."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from fastapi import Request
from starlette.requests import HTTPConnection

from sophon.identity import guard
from sophon.identity.auth import principals
from sophon.platform.clock import utcnow
from sophon.platform.errors import NotAuthorized, Unauthenticated
from sophon.platform.principal import Principal
from sophon.platform.tenancy import TENANT_HEADER

if TYPE_CHECKING:
    from sophon.gateway import Gateway

TENANT_QUERY = "tenant"


@dataclass(frozen=True)
class Credentials:
    credential: str | None
    tenant_slug: str | None


def credentials_of(http: HTTPConnection) -> Credentials:
    credential = http.query_params.get("access_token") or None
    if credential is None:
        header = http.headers.get("authorization")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Unauthenticated("Use 'Authorization: Bearer <token>' or ?access_token=.")
            credential = value.strip()
    slug = http.headers.get(TENANT_HEADER) or http.query_params.get(TENANT_QUERY) or None
    return Credentials(credential, slug)


async def authenticate(gateway: Gateway, http: HTTPConnection, found: Credentials) -> Principal:
    """The principal, or Unauthenticated / NotAuthorized as REST would answer."""
    request = cast(Request, http)  # the guard reads only the client address from it
    resolved: principals.Authenticated | None = None
    async with gateway.db.transaction(readonly=True) as db:  # reads: no write lock taken
        if found.credential is None:
            if not gateway.settings.auto_admin:
                raise Unauthenticated("Pass the access token as ?access_token= or a Bearer header.")
            principal = await guard.auto_admin_principal(db, found.tenant_slug)
        else:
            resolved = await guard.resolve(
                request, db, gateway, found.credential, found.tenant_slug
            )
            principal = resolved.principal
    if resolved is not None and resolved.needs_touch(utcnow()):
        async with gateway.db.transaction(tenant_id=principal.tenant_id) as side:
            await guard.touch(side, resolved)  # at most once a minute, as for REST reads
    return _usable(principal)


async def recheck(gateway: Gateway, found: Credentials) -> Principal:
    """The same checks again for a live connection (after a revocation); no rate limit."""
    async with gateway.db.transaction(readonly=True) as db:
        if found.credential is None:
            principal = await guard.auto_admin_principal(db, found.tenant_slug)
        else:
            if principals.is_api_token(found.credential):
                resolved = await principals.from_api_token(db, found.credential, found.tenant_slug)
            else:
                resolved = await principals.from_jwt(
                    db,
                    gateway.auth.jwt,
                    gateway.auth.sessions,
                    found.credential,
                    found.tenant_slug,
                )
            principal = resolved.principal
    return _usable(principal)


def _usable(principal: Principal) -> Principal:
    if principal.must_change_password:
        raise NotAuthorized(
            "You must change your password before doing anything else.",
            {"code": "password_change_required"},
        )
    return principal
