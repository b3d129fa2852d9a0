"""`/api/mcp/servers`: the tenant's external MCP servers, bridged into the tool catalog."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.mcp import service
from sophon.mcp.schemas import (
    McpServerIn,
    McpServerOut,
    McpServerPatchIn,
    McpServerToolsOut,
    McpTestOut,
)
from sophon.mcp.views import server_out, tools_out
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P

router = api_router("/mcp/servers", tags=["MCP"])
_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such MCP server in this tenant."}
}
_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another MCP server of the tenant has this name."}
}


@router.get("", operation_id="listMcpServers")
@requires(P.MANAGE_MCP)
async def list_servers(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[McpServerOut]:
    """The tenant's MCP server registrations, by name, with their connection status."""
    return await page_of(
        gateway.paginator, db, service.registrations(), page, f"mcp:{principal.tenant_id}",
        lambda row: server_out(row, gateway.mcp), order=service.ORDER, descending=False,
    )  # fmt: skip


@router.post(
    "", operation_id="createMcpServer", status_code=status.HTTP_201_CREATED, responses=_TAKEN
)
@requires(P.MANAGE_MCP)
async def create_server(
    body: McpServerIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> McpServerOut:
    """Registers an MCP server; its tools join the catalog as `mcp.<name>.<tool>` once it
    connects. A stdio server also needs ManageSettings (it runs a command on the host)."""
    row = await service.create(db, principal, gateway.vault, gateway.mcp, body)
    return server_out(row, gateway.mcp)


@router.get("/{server_id}", operation_id="getMcpServer", responses=_MISSING)
@requires(P.MANAGE_MCP)
async def get_server(server_id: str, db: DbDep, gateway: GatewayDep) -> McpServerOut:
    """One MCP server registration (secrets masked)."""
    return server_out(await service.get(db, server_id), gateway.mcp)


@router.patch("/{server_id}", operation_id="updateMcpServer", responses=_MISSING)
@requires(P.MANAGE_MCP)
async def update_server(
    server_id: str, body: McpServerPatchIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> McpServerOut:
    """Changes a registration; the connection is re-made with the new settings."""
    row = await service.update(db, principal, gateway.vault, gateway.mcp, server_id, body)
    return server_out(row, gateway.mcp)


@router.delete(
    "/{server_id}",
    operation_id="deleteMcpServer",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_MISSING,
)
@requires(P.MANAGE_MCP)
async def delete_server(
    server_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> Response:
    """Removes a registration: its tools leave the catalog and its connection closes."""
    await service.delete(db, principal, gateway.mcp, server_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{server_id}/test", operation_id="testMcpServer", responses=_MISSING)
@requires(P.MANAGE_MCP)
async def test_server(
    server_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> McpTestOut:
    """Connects, initializes, lists tools, resources and prompts: what was found and how fast,
    or the error."""
    return await service.test(db, principal, gateway.vault, gateway.mcp, server_id)


@router.get("/{server_id}/tools", operation_id="listMcpServerTools", responses=_MISSING)
@requires(P.MANAGE_MCP)
async def list_server_tools(server_id: str, db: DbDep, gateway: GatewayDep) -> McpServerToolsOut:
    """The server's tools as bridged: catalog name, schema, risk, availability."""
    return McpServerToolsOut(items=tools_out(await service.get(db, server_id), gateway.mcp))


@router.post("/{server_id}/approve-tools", operation_id="approveMcpServerTools", responses=_MISSING)
@requires(P.MANAGE_MCP)
async def approve_tools(
    server_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> McpServerOut:
    """Approves the server's current tool definitions (re-enables changed ones)."""
    row = await service.approve_tools(db, principal, gateway.mcp, server_id)
    return server_out(row, gateway.mcp)
