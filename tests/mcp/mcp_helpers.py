"""Registering MCP servers and waiting for their links in tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.identity_helpers import Caller


async def register(client: httpx.AsyncClient, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/mcp/servers", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def wait_status(
    client: httpx.AsyncClient, caller: Caller, server_id: str, status: str, *, tools: int = 1
) -> dict[str, Any]:
    """Polls the registration until it has `status` (and, connected, at least `tools` tools)."""
    body: dict[str, Any] = {}
    for _ in range(300):
        response = await client.get(f"/api/mcp/servers/{server_id}", headers=caller.headers)
        body = response.json()
        if body.get("status") == status and (status != "connected" or body["toolCount"] >= tools):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"server never reached {status}: {body}")


async def catalog_names(client: httpx.AsyncClient, caller: Caller) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/tools", headers=caller.headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return {t["name"]: t for t in response.json()["items"]}
