"""`{{vault:<name>}}` references in registrations resolved from the tenant's connections at
connect time (and again after a rotation), a clear error for a missing name, resources and
prompts kept current on list_changed, and DNS rebinding refused when the SDK's HTTP client
connects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from sophon.gateway import Gateway
from tests.identity_helpers import Caller
from tests.mcp.conftest import stdio_registration
from tests.mcp.mcp_helpers import register, wait_link, wait_status

SECRET = "tok-0123456789abcdef"


async def _connection(client: httpx.AsyncClient, caller: Caller, name: str) -> dict[str, Any]:
    response = await client.post(
        "/api/connections",
        headers=caller.headers,
        json={"name": name, "authType": "bearer", "secret": SECRET},
    )
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def _env_seen(gateway: Gateway, server_id: str) -> str:
    link = gateway.mcp.link(server_id)
    assert link is not None
    result = await link.call("env", {"name": "DEMO_TOKEN"}, None)
    assert not result.is_error, result
    assert isinstance(result.data, dict)
    return str(result.data["result"])


async def test_a_vault_reference_resolves_at_connect_time_and_follows_rotation(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    created = await register(
        client, admin, stdio_registration(env={"DEMO_TOKEN": "{{vault:demo-token}}"})
    )
    missing = await wait_link(gateway, created["id"], lambda k: k.error is not None)
    assert "{{vault:demo-token}}" in str(missing.error)
    tested = await client.post(f"/api/mcp/servers/{created['id']}/test", headers=admin.headers)
    report = tested.json()
    assert report["ok"] is False
    assert "{{vault:demo-token}} names no connection" in report["error"]

    connection = await _connection(client, admin, "demo-token")
    await wait_status(client, admin, gateway, created["id"], tools=7)
    assert await _env_seen(gateway, created["id"]) == SECRET
    shown = (await client.get(f"/api/mcp/servers/{created['id']}", headers=admin.headers)).json()
    assert SECRET not in str(shown)

    before = gateway.mcp.link(created["id"])
    rotated = await client.post(
        f"/api/connections/{connection['id']}/rotate",
        headers=admin.headers,
        json={"secret": "tok-rotated-zzzzzzzzzz"},
    )
    assert rotated.status_code == 200, rotated.text
    await wait_link(gateway, created["id"], lambda k: k is not before and k.state == "connected")
    assert await _env_seen(gateway, created["id"]) == "tok-rotated-zzzzzzzzzz"


async def test_resources_and_prompts_are_listed_again_on_list_changed(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway
) -> None:
    created = await register(client, admin, stdio_registration())
    server = await wait_status(client, admin, gateway, created["id"], tools=7)
    assert server["resources"] == ["demo://greeting"]
    assert server["prompts"] == ["hello"]
    link = gateway.mcp.link(created["id"])
    assert link is not None
    await link.call("more", {}, None)
    await wait_link(
        gateway,
        created["id"],
        lambda k: len(k.found.resource_uris) == 2 and len(k.found.prompt_names) == 2,
    )
    shown = (await client.get(f"/api/mcp/servers/{created['id']}", headers=admin.headers)).json()
    assert sorted(shown["resources"]) == ["demo://farewell", "demo://greeting"]
    assert sorted(shown["prompts"]) == ["bye", "hello"]


def _remote(http_demo: str, host: str) -> dict[str, object]:
    port = http_demo.rsplit(":", 1)[1].split("/")[0]
    return {"name": "remote", "transport": "streamableHttp", "url": f"http://{host}:{port}/mcp"}


async def test_a_name_resolving_to_an_allowed_address_connects_with_the_resolved_auth(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, http_demo: str
) -> None:
    asked: list[str] = []

    async def loopback(host: str) -> Sequence[str]:
        asked.append(host)
        return ["127.0.0.1"]

    gateway.mcp.resolver = loopback
    await _connection(client, admin, "remote-token")
    auth = {"type": "bearer", "token": "{{vault:remote-token}}"}
    created = await register(client, admin, {**_remote(http_demo, "localhost"), "auth": auth})
    assert created["auth"]["secret"] == "{{vault:remote-token}}"  # a reference, not a secret
    tested = await client.post(f"/api/mcp/servers/{created['id']}/test", headers=admin.headers)
    assert tested.json()["ok"] is True, tested.json()
    assert len(asked) >= 2  # the early check and the transport's own connection
    link = await wait_link(gateway, created["id"], lambda k: k.state == "connected")
    seen = await link.call("authorization", {}, None)
    assert isinstance(seen.data, dict)
    assert seen.data["result"] == f"Bearer {SECRET}"


async def test_dns_rebinding_after_the_first_check_is_refused_at_connect_time(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, http_demo: str
) -> None:
    answers = [["127.0.0.1"]]
    asked: list[str] = []

    async def rebinding(host: str) -> Sequence[str]:
        asked.append(host)
        return answers.pop(0) if answers else ["10.20.30.40"]

    gateway.mcp.resolver = rebinding
    # disabled: no link of its own resolves the name meanwhile
    created = await register(client, admin, {**_remote(http_demo, "localhost"), "enabled": False})
    tested = await client.post(f"/api/mcp/servers/{created['id']}/test", headers=admin.headers)
    report = tested.json()
    assert report["ok"] is False
    assert "refused" in report["error"].lower()
    assert "private" in report["error"].lower()
    # the early check passed (loopback is allowed here); the connection's own lookup refused
    assert asked[:2] == ["localhost", "localhost"]
