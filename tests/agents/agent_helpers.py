"""Calling the agents API in tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.identity_helpers import Caller

AGENTS = "/api/agents"


async def create_agent(client: httpx.AsyncClient, caller: Caller, name: str, **fields: Any) -> Any:
    response = await client.post(AGENTS, headers=caller.headers, json={"name": name} | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def list_agents(client: httpx.AsyncClient, caller: Caller) -> list[dict[str, Any]]:
    response = await client.get(AGENTS, headers=caller.headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def default_agent(client: httpx.AsyncClient, caller: Caller) -> dict[str, Any]:
    (found,) = [a for a in await list_agents(client, caller) if a["isDefault"]]
    return found


async def audit_actions(client: httpx.AsyncClient, caller: Caller, prefix: str) -> list[str]:
    response = await client.get(
        "/api/admin/audit", headers=caller.headers, params={"action": prefix, "limit": 200}
    )
    assert response.status_code == 200, response.text
    return [e["action"] for e in response.json()["items"]]
