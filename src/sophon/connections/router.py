"""`/api/connections`: the tenant's named credentials (API key / manual), referenced in
configuration as `{{vault:<name>}}`. OAuth connections are not offered here."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Response, status

from sophon.connections import service
from sophon.connections.models import Connection
from sophon.connections.schemas import ConnectionIn, ConnectionOut, ConnectionTestOut, RotateIn
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.gateway import Gateway
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router
from sophon.platform.http import outbound_client, split_allow_setting
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P

router = api_router("/connections", tags=["Connections"])
_MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "No such connection."}}
_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another connection of the tenant has this name."}
}
TEST_TIMEOUT = 10.0


def connection_out(row: Connection) -> ConnectionOut:
    return ConnectionOut(
        id=row.id,
        name=row.name,
        service=row.service,
        auth_type=row.auth_type,
        username=row.username,
        header=row.header,
        test_url=row.test_url,
        secret=row.secret_mask,
        reference=f"{{{{vault:{row.name}}}}}",
        rotated_at=row.rotated_at,
        last_tested_at=row.last_tested_at,
        last_test_ok=row.last_test_ok,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _changed(gateway: Gateway) -> service.Changed:
    """What resolves secrets by name (the MCP links) reconnects with the new value."""
    return gateway.mcp.changed_soon


def _client(gateway: Gateway) -> service.ClientFactory:
    allow = split_allow_setting(gateway.settings.outbound_allow)

    def make() -> httpx.AsyncClient:
        return outbound_client(
            allow=allow, timeout=TEST_TIMEOUT, total_timeout=TEST_TIMEOUT, follow_redirects=False
        )

    return make


@router.get("", operation_id="listConnections")
@requires(P.MANAGE_CONNECTIONS)
async def list_connections(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[ConnectionOut]:
    """The tenant's connections, by name (secrets masked)."""
    return await page_of(
        gateway.paginator, db, service.connections(), page, f"connections:{principal.tenant_id}",
        connection_out, order=service.ORDER, descending=False,
    )  # fmt: skip


@router.post(
    "", operation_id="createConnection", status_code=status.HTTP_201_CREATED, responses=_TAKEN
)
@requires(P.MANAGE_CONNECTIONS)
async def create_connection(
    body: ConnectionIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> ConnectionOut:
    """Stores an API key, bearer token or basic credential, encrypted; it is never returned,
    only its mask and the `{{vault:<name>}}` reference."""
    row = await service.create(db, principal, gateway.vault, body, _changed(gateway))
    return connection_out(row)


@router.get("/{connection_id}", operation_id="getConnection", responses=_MISSING)
@requires(P.MANAGE_CONNECTIONS)
async def get_connection(connection_id: str, db: DbDep) -> ConnectionOut:
    """One connection (secret masked)."""
    return connection_out(await service.get(db, connection_id))


@router.delete(
    "/{connection_id}",
    operation_id="deleteConnection",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_MISSING,
)
@requires(P.MANAGE_CONNECTIONS)
async def delete_connection(
    connection_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> Response:
    """Deletes the connection and its secret; references to it stop resolving."""
    await service.delete(db, principal, connection_id, _changed(gateway))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{connection_id}/test", operation_id="testConnection", responses=_MISSING)
@requires(P.MANAGE_CONNECTIONS)
async def test_connection(
    connection_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> ConnectionTestOut:
    """Calls the connection's `testUrl` with the credential (through the outbound guard); without
    a test URL nothing is sent and `tested` is false."""
    return await service.test(db, principal, gateway.vault, connection_id, _client(gateway))


@router.post("/{connection_id}/rotate", operation_id="rotateConnection", responses=_MISSING)
@requires(P.MANAGE_CONNECTIONS)
async def rotate_connection(
    connection_id: str, body: RotateIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> ConnectionOut:
    """Replaces the secret; what references it uses the new one from its next connection."""
    row = await service.rotate(
        db, principal, gateway.vault, connection_id, body.secret, _changed(gateway)
    )
    return connection_out(row)
