"""`/api/mcp/server`: the Gateway's own MCP server: its tokens, status and configuration."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.mcp import server_config, tokens
from sophon.mcp.endpoint import endpoint_of
from sophon.mcp.models import McpServerToken
from sophon.mcp.schemas import ServerConfig, ServerStatusOut, TokenCreatedOut, TokenIn, TokenOut
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P

router = api_router("/mcp/server", tags=["MCP"])
_MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "No such token."}}


def token_out(row: McpServerToken) -> TokenOut:
    return TokenOut(
        id=row.id, name=row.name, prefix=row.prefix, user_id=row.user_id, tools=row.tools,
        created_at=row.created_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at,
    )  # fmt: skip


@router.get("/tokens", operation_id="listMcpServerTokens")
@requires(P.MANAGE_MCP)
async def list_tokens(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[TokenOut]:
    """The tenant's MCP server tokens (never their secrets), newest first."""
    return await page_of(
        gateway.paginator, db, tokens.tokens(), page, f"mcptok:{principal.tenant_id}", token_out
    )


@router.post("/tokens", operation_id="createMcpServerToken", status_code=status.HTTP_201_CREATED)
@requires(P.MANAGE_MCP)
async def create_token(body: TokenIn, db: DbDep, principal: PrincipalDep) -> TokenCreatedOut:
    """Makes a token for MCP clients, bound to you and this tenant; the secret is shown once."""
    row, secret = await tokens.create(db, principal, body)
    return TokenCreatedOut(**token_out(row).model_dump(), token=secret)


@router.delete(
    "/tokens/{token_id}",
    operation_id="revokeMcpServerToken",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_MISSING,
)
@requires(P.MANAGE_MCP)
async def revoke_token(token_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Revokes a token: its next request is refused (401)."""
    await tokens.revoke(db, principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/status", operation_id="getMcpServerStatus")
@requires(P.MANAGE_MCP)
async def get_status(request: Request) -> ServerStatusOut:
    """Enabled transports, connected sessions and calls served since start."""
    endpoint = endpoint_of(request.app)
    config = endpoint.config.current()
    return ServerStatusOut(
        enabled=config.enabled,
        transports=sorted(name for name, t in config.transports.items() if t.enabled),
        connected_sessions=endpoint.connected_sessions,
        calls_served=endpoint.stats.calls_served,
    )


@router.get("/config", operation_id="getMcpServerConfig")
@requires(P.MANAGE_MCP)
async def get_config(request: Request) -> ServerConfig:
    """The server's configuration (`<data>/config/mcp-server.json`)."""
    return endpoint_of(request.app).config.current()


@router.put("/config", operation_id="putMcpServerConfig")
@requires(P.MANAGE_MCP, P.MANAGE_SETTINGS)
async def put_config(
    body: ServerConfig, request: Request, db: DbDep, principal: PrincipalDep
) -> ServerConfig:
    """Replaces the configuration; applied to the next request, no restart."""
    return await server_config.put(db, principal, endpoint_of(request.app).config, body)
