"""Driving webhooks through the public API in tests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.identity_helpers import Caller


async def add_webhook(client: httpx.AsyncClient, caller: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": "hook", **fields}
    response = await client.post("/api/webhooks", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_outbound(
    client: httpx.AsyncClient, caller: Caller, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    return await add_webhook(
        client, caller, kind="outbound", url=url, eventTypes=events or ["task.*", "agent.*"]
    )


async def deliveries(
    client: httpx.AsyncClient, caller: Caller, webhook_id: str, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/webhooks/{webhook_id}/deliveries", headers=caller.headers, params=params
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def delivery(
    client: httpx.AsyncClient, caller: Caller, webhook_id: str, delivery_id: str
) -> dict[str, Any]:
    response = await client.get(
        f"/api/webhooks/{webhook_id}/deliveries/{delivery_id}", headers=caller.headers
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def settled(
    client: httpx.AsyncClient,
    caller: Caller,
    webhook_id: str,
    delivery_id: str,
    within: float = 20.0,
) -> dict[str, Any]:
    """The delivery once it is no longer Pending."""
    async with asyncio.timeout(within):
        while True:
            found = await delivery(client, caller, webhook_id, delivery_id)
            if found["status"] != "Pending":
                return found
            await asyncio.sleep(0.05)


async def get_webhook(client: httpx.AsyncClient, caller: Caller, webhook_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/webhooks/{webhook_id}", headers=caller.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found
