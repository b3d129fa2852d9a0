"""Tenant isolation of MCP server registrations, their bridged tools, and MCP server tokens."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.settings import Settings
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.mcp.conftest import stdio_registration
from tests.mcp.mcp_helpers import catalog_names, register, wait_link, wait_status
from tests.tenants.tenant_helpers import enterprise_settings, tenant_admin


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return enterprise_settings(settings)


async def test_registrations_and_their_tools_stay_in_their_tenant(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    created = await register(client, admin, stdio_registration())
    await wait_status(client, admin, gateway, created["id"], tools=7)
    other = await tenant_admin(client, admin, "acme")

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
    other = await tenant_admin(client, admin, "acme")
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


async def test_a_tenant_mcp_json_serves_only_that_tenant_with_its_own_secrets(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, data_dir: Path
) -> None:
    other = await tenant_admin(client, admin, "acme")
    secret = {"name": "tok", "authType": "bearer", "secret": "acme-secret-0123456789"}
    made = await client.post("/api/connections", headers=other.headers, json=secret)
    assert made.status_code == 201, made.text
    path = data_dir / "config" / "tenants" / "acme" / "mcp.json"
    path.parent.mkdir(parents=True)
    entry = stdio_registration(env={"DEMO_TOKEN": "{{vault:tok}}"})
    entry.pop("name")
    path.write_text(json.dumps({"servers": {"local": entry}}))
    # no call: the hub notices the new file by itself
    link = await wait_link(
        gateway, "file:acme:local", lambda k: k.state == "connected" and len(k.found.tools) >= 7
    )
    seen = await link.call("env", {"name": "DEMO_TOKEN"}, None)
    assert isinstance(seen.data, dict)
    assert seen.data["result"] == "acme-secret-0123456789"
    assert "mcp.local.add" in await catalog_names(client, other)
    assert "mcp.local.add" not in await catalog_names(client, admin)

    # the same file for the default tenant: `tok` is not one of its connections
    default = data_dir / "config" / "mcp.json"
    default.write_text(json.dumps({"servers": {"mine": entry}}))
    failing = await wait_link(gateway, "file:mine", lambda k: k.error is not None)
    assert "{{vault:tok}} names no connection" in str(failing.error)

    path.unlink()
    await gateway.mcp.reconcile()
    assert gateway.mcp.link("file:acme:local") is None
    assert "mcp.local.add" not in await catalog_names(client, other)
