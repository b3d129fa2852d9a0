"""Registering MCP servers and waiting for their links in tests (waits watch the Gateway's hub,
not the API, so they never run into the read rate limit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from sophon.gateway import Gateway
from sophon.mcp.links import Link
from tests.identity_helpers import Caller


async def register(
    client: httpx.AsyncClient, caller: Caller, body: dict[str, Any], *, approve: bool = True
) -> dict[str, Any]:
    """Registers a server; a stdio server's command is approved too (unless `approve=False`)."""
    response = await client.post("/api/mcp/servers", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    if created["transport"] == "stdio" and approve:
        assert created["status"] == "awaiting_approval", created
        decided = await client.post(
            f"/api/approvals/{created['approvalId']}/approve", headers=caller.headers
        )
        assert decided.status_code == 200, decided.text
    return created


async def wait_link(
    gateway: Gateway, server_id: str, ready: Callable[[Link], bool], seconds: float = 20
) -> Link:
    for _ in range(int(seconds / 0.02)):
        link = gateway.mcp.link(server_id)
        if link is not None and ready(link):
            return link
        await asyncio.sleep(0.02)
    raise AssertionError(f"the link of {server_id} never got ready: {gateway.mcp.link(server_id)}")


async def wait_status(
    client: httpx.AsyncClient, caller: Caller, gateway: Gateway, server_id: str, *, tools: int = 1
) -> dict[str, Any]:
    """Waits until the registration is connected with at least `tools` tools; returns it."""
    await wait_link(
        gateway, server_id, lambda k: k.state == "connected" and len(k.found.tools) >= tools
    )
    response = await client.get(f"/api/mcp/servers/{server_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def catalog_names(client: httpx.AsyncClient, caller: Caller) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/tools", headers=caller.headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()["items"]}
