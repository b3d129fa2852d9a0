"""Tokens for the Gateway's own MCP server: made for the caller (bound to their user and the
tenant), shown once, stored as SHA-256 only, optionally narrowed to a tool subset; revocation
takes effect on the very next request, because every request looks the token up again."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.identity.auth import principals
from sophon.identity.users import service as users
from sophon.mcp.models import McpServerToken
from sophon.platform.clock import utcnow
from sophon.platform.errors import NotAuthorized, NotFound, Unauthenticated
from sophon.platform.ids import new_id
from sophon.platform.principal import AuthMethod, Principal
from sophon.platform.tenancy import ALL_TENANTS, set_session_tenant
from sophon.tenants import service as tenants

if TYPE_CHECKING:
    from sophon.mcp.schemas import TokenIn

PREFIX = "mcp_"
ORDER = [McpServerToken.id]


@dataclass(frozen=True)
class McpCaller:
    """Who an MCP request acts for: the principal, and the token's tool subset (None: all)."""

    principal: Principal
    tools: tuple[str, ...] | None
    token_id: str | None


def is_mcp_token(credential: str) -> bool:
    return credential.startswith(PREFIX)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens() -> Select[McpServerToken]:
    return select(McpServerToken)


@audited("mcp.token.create")
async def create(
    db: AsyncSession, principal: Principal, body: TokenIn
) -> tuple[McpServerToken, str]:
    if principal.user_id is None:
        raise NotAuthorized("Only a user can own MCP server tokens.")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = McpServerToken(
        id=new_id("tok"),
        name=body.name,
        user_id=principal.user_id,
        token_hash=_digest(secret),
        prefix=secret[:12],
        tools=list(body.tools) if body.tools is not None else None,
    )
    db.add(row)
    await db.flush()
    await audit.record(
        db, principal, "mcp.token.create", ("mcp_token", row.id), details=row.summary()
    )
    return row, secret


@audited("mcp.token.revoke")
async def revoke(db: AsyncSession, principal: Principal, token_id: str) -> None:
    row = await db.get(McpServerToken, token_id)
    if row is None or row.revoked_at is not None:
        raise NotFound("The MCP server token does not exist.", {"id": token_id})
    row.revoked_at = utcnow()
    await db.flush()
    await audit.record(
        db, principal, "mcp.token.revoke", ("mcp_token", row.id), details=row.summary()
    )


@exempt("records a token's last use, as API tokens do (activity, not a change)")
async def authenticate(db: AsyncSession, secret: str) -> McpCaller:
    """The caller an MCP token stands for, from live state: Unauthenticated when the token is
    unknown or revoked, or its user is no longer active in its tenant."""
    row = await db.scalar(
        select(McpServerToken)
        .where(McpServerToken.token_hash == _digest(secret))
        .execution_options(**ALL_TENANTS)  # the token itself names its tenant
    )
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("The MCP token is invalid or revoked.")
    set_session_tenant(db.sync_session, row.tenant_id)
    tenant = await tenants.by_id(db, row.tenant_id)
    try:
        user = await users.get_member(db, row.user_id)
    except NotFound:
        raise Unauthenticated("The MCP token's user is no longer a member.") from None
    if tenant is None or tenant.status != "Active" or user.status != "Active":
        raise Unauthenticated("The MCP token's user or tenant is not active.")
    try:
        principal = await principals.principal_in_tenant(db, user, tenant, AuthMethod.TOKEN)
    except NotAuthorized as refused:
        raise Unauthenticated(refused.message) from None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return McpCaller(principal, tuple(row.tools) if row.tools is not None else None, row.id)
