"""Registering external MCP servers: the stdio demo server's tools enter the tenant's catalog as
`mcp.demo.<tool>` with their schema and risk; test, tools, masking, validation, isolation."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from sophon.gateway import Gateway
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.mcp.conftest import stdio_registration
from tests.mcp.mcp_helpers import catalog_names, register, wait_link, wait_status


async def test_a_stdio_server_bridges_its_tools_into_the_catalog(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    created = await register(
        client,
        admin,
        stdio_registration(env={"DEMO_TOKEN": "s3cret-value"}, excludedTools=["crash"]),
    )
    assert created["env"] == {"DEMO_TOKEN": "••••••"}
    assert "s3cret" not in str(created)
    server = await wait_status(client, admin, gateway, created["id"], tools=7)
    assert server["problems"] == {}

    tools = await catalog_names(client, admin)
    assert tools["mcp.demo.add"]["source"] == "mcp"
    assert tools["mcp.demo.add"]["riskLevel"] == "Low"  # readOnlyHint
    assert tools["mcp.demo.wipe"]["riskLevel"] == "High"  # destructiveHint
    assert tools["mcp.demo.slow"]["riskLevel"] == "Medium"  # no annotation
    assert tools["mcp.demo.add"]["parameters"]["required"] == ["a", "b"]
    assert "mcp.demo.crash" not in tools  # excluded by the registration
    anonymous = (await client.get("/api/tools", params={"limit": 200})).json()["items"]
    assert not [t for t in anonymous if t["name"].startswith("mcp.")]

    listed = await client.get(f"/api/mcp/servers/{created['id']}/tools", headers=admin.headers)
    by_name = {t["serverTool"]: t for t in listed.json()["items"]}
    assert by_name["crash"]["excluded"] is True
    assert by_name["add"]["available"] is True

    tested = await client.post(f"/api/mcp/servers/{created['id']}/test", headers=admin.headers)
    assert tested.status_code == 200, tested.text
    report = tested.json()
    assert report["ok"] is True
    assert report["serverName"] == "demo"
    assert "add" in report["tools"]
    assert report["latencyMs"] > 0

    agent = (await client.get("/api/agents", headers=admin.headers)).json()["items"][0]
    allowed = await client.put(
        f"/api/agents/{agent['id']}/tools", headers=admin.headers, json={"tools": ["mcp.demo.*"]}
    )
    assert allowed.status_code == 200, allowed.text
    assert "mcp.demo.add" in allowed.json()["effective"]

    deleted = await client.delete(f"/api/mcp/servers/{created['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    for _ in range(100):
        if "mcp.demo.add" not in await catalog_names(client, admin):
            break
    assert "mcp.demo.add" not in await catalog_names(client, admin)


async def test_bad_registrations_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    cases = [
        ({"name": "Bad.Name", "transport": "stdio", "command": "x"}, "validation_failed"),
        ({"name": "nocmd", "transport": "stdio"}, "validation_failed"),
        ({"name": "nourl", "transport": "streamableHttp"}, "validation_failed"),
        ({"name": "ftp", "transport": "sse", "url": "ftp://example.com/x"}, "validation_failed"),
        (
            {"name": "both", "transport": "sse", "url": "http://x.test/", "command": "x"},
            "validation_failed",
        ),
        (
            {
                "name": "auth",
                "transport": "sse",
                "url": "http://x.test/",
                "auth": {"type": "bearer"},
            },
            "validation_failed",
        ),
        ({"name": "t", "transport": "carrier-pigeon", "command": "x"}, "validation_failed"),
    ]
    for body, code in cases:
        assert_error(
            await client.post("/api/mcp/servers", headers=admin.headers, json=body), 422, code
        )
    listed = await client.get("/api/mcp/servers", headers=admin.headers)
    assert listed.json()["items"] == []
    await register(
        client,
        admin,
        {"name": "dup", "transport": "sse", "url": "http://x.test/sse", "enabled": False},
    )
    again = await client.post(
        "/api/mcp/servers", headers=admin.headers,
        json={"name": "dup", "transport": "sse", "url": "http://x.test/sse"},
    )  # fmt: skip
    assert_error(again, 409, "conflict")
    assert len((await client.get("/api/mcp/servers", headers=admin.headers)).json()["items"]) == 1


async def test_a_stdio_command_runs_only_once_a_person_approved_it(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    created = await register(client, admin, stdio_registration(), approve=False)
    assert created["status"] == "awaiting_approval"
    approval = (
        await client.get(f"/api/approvals/{created['approvalId']}", headers=admin.headers)
    ).json()
    assert (approval["toolName"], approval["riskLevel"]) == ("mcp.server.run", "Critical")
    assert "demo_server.py" in approval["preview"]
    assert gateway.mcp.link(created["id"]) is None
    await gateway.mcp.reconcile()
    assert gateway.mcp.link(created["id"]) is None  # not before the approval

    approved = await client.post(
        f"/api/approvals/{created['approvalId']}/approve", headers=admin.headers
    )
    assert approved.status_code == 200, approved.text
    await wait_status(client, admin, gateway, created["id"], tools=7)

    changed = await client.patch(
        f"/api/mcp/servers/{created['id']}",
        headers=admin.headers,
        json={"args": [*created["args"], "--extra"]},
    )
    assert changed.status_code == 200, changed.text
    again = changed.json()
    assert again["status"] == "awaiting_approval"
    assert again["approvalId"] != created["approvalId"]
    rejected = await client.post(
        f"/api/approvals/{again['approvalId']}/reject", headers=admin.headers, json={"reason": "no"}
    )
    assert rejected.status_code == 200, rejected.text
    await gateway.mcp.reconcile()
    assert gateway.mcp.link(created["id"]) is None


async def test_servers_in_mcp_json_are_picked_up_live_and_a_bad_file_keeps_the_last_good(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = data_dir / "config" / "mcp.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {k: v for k, v in stdio_registration().items() if k != "name"}
    path.write_text(json.dumps({"servers": {"local": entry}}))
    # no call: the hub notices the file by itself
    await wait_link(
        gateway, "file:local", lambda k: k.state == "connected" and len(k.found.tools) >= 7
    )
    assert "mcp.local.add" in await catalog_names(client, admin)

    path.write_text("{not json")
    with caplog.at_level(logging.ERROR, logger="sophon.mcp"):
        await gateway.mcp.reconcile()
    assert any("keeping the last good configuration" in r.message for r in caplog.records)
    assert gateway.mcp.link("file:local") is not None

    path.write_text(json.dumps({"servers": {}}))
    await gateway.mcp.reconcile()
    assert gateway.mcp.link("file:local") is None
    assert "mcp.local.add" not in await catalog_names(client, admin)


async def test_a_sandboxed_stdio_server_does_not_see_the_data_dir(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, data_dir: Path
) -> None:
    secret = data_dir / "secret.txt"
    secret.write_text("do not read")
    plain = await register(client, admin, stdio_registration("plain"))
    boxed = await register(client, admin, stdio_registration("boxed", sandbox=True))
    assert boxed["sandbox"] is True
    for server in (plain, boxed):
        await wait_status(client, admin, gateway, server["id"], tools=7)
    outside = await gateway.mcp.link(plain["id"]).call("peek", {"path": str(secret)}, None)  # type: ignore[union-attr]
    inside = await gateway.mcp.link(boxed["id"]).call("peek", {"path": str(secret)}, None)  # type: ignore[union-attr]
    assert "true" in outside.content
    assert "false" in inside.content
