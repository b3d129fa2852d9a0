"""Tenant isolation of MCP server registrations, their bridged tools, and MCP server tokens."""

from __future__ import annotations

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.settings import Settings, Tier
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority
from tests.mcp.conftest import stdio_registration
from tests.mcp.mcp_helpers import catalog_names, register, wait_status
from tests.tenants.tenant_helpers import assign, create_tenant


@pytest.fixture
def settings(settings: Settings) -> Settings:
    authority = Authority.new()
    return settings.model_copy(
        update={
            "tier": Tier.ENTERPRISE,
            "license_public_key": authority.public_b64,
            "license_key": authority.licence(),
        }
    )


async def _admin_of(client: httpx.AsyncClient, root: Caller, slug: str) -> Caller:
    tenant = await create_tenant(client, root, slug)
    other = await add_user(client, root, f"admin@{slug}.example.com", [])
    assert (await assign(client, root, tenant["id"], other.email, ["Admin"])).is_success
    other.tenant = slug
    return other


async def test_registrations_and_their_tools_stay_in_their_tenant(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    created = await register(client, admin, stdio_registration())
    await wait_status(client, admin, gateway, created["id"], tools=7)
    other = await _admin_of(client, admin, "acme")

    assert (await client.get("/api/mcp/servers", headers=other.headers)).json()["items"] == []
    path = f"/api/mcp/servers/{created['id']}"
    assert_error(await client.get(path, headers=other.headers), 404, "not_found")
    assert_error(
        await client.patch(path, headers=other.headers, json={"enabled": False}), 404, "not_found"
    )
    assert_error(await client.delete(path, headers=other.headers), 404, "not_found")
    assert_error(await client.post(f"{path}/test", headers=other.headers), 404, "not_found")
    assert_error(await client.get(f"{path}/tools", headers=other.headers), 404, "not_found")

    assert "mcp.demo.add" in await catalog_names(client, admin)
    assert "mcp.demo.add" not in await catalog_names(client, other)
    agents = (await client.get("/api/agents", headers=other.headers)).json()["items"]
    refused = await client.put(
        f"/api/agents/{agents[0]['id']}/tools",
        headers=other.headers,
        json={"tools": ["mcp.demo.*"]},
    )
    assert_error(refused, 422, "validation_failed")
    # the same name is free in another tenant
    await register(
        client,
        other,
        {"name": "demo", "transport": "sse", "url": "http://x.test/sse", "enabled": False},
    )
    still = (await client.get(path, headers=admin.headers)).json()
    assert still["enabled"] is True


async def test_mcp_server_tokens_stay_in_their_tenant(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await client.post("/api/mcp/server/tokens", headers=admin.headers, json={"name": "a"})
    assert made.status_code == 201, made.text
    other = await _admin_of(client, admin, "acme")
    assert (await client.get("/api/mcp/server/tokens", headers=other.headers)).json()["items"] == []
    assert_error(
        await client.delete(f"/api/mcp/server/tokens/{made.json()['id']}", headers=other.headers),
        404,
        "not_found",
    )
    mine = (await client.get("/api/mcp/server/tokens", headers=admin.headers)).json()["items"]
    assert [t["id"] for t in mine] == [made.json()["id"]]
    assert mine[0]["revokedAt"] is None
    assert "token" not in mine[0]
