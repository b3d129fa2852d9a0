"""Calling the memory API in tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.identity_helpers import Caller

ENTRIES = "/api/memory/entries"


async def remember(client: httpx.AsyncClient, caller: Caller, content: str, **fields: Any) -> Any:
    response = await client.post(
        ENTRIES, headers=caller.headers, json={"content": content} | fields
    )
    assert response.status_code == 201, response.text
    return response.json()


async def entry_ids(client: httpx.AsyncClient, caller: Caller, **params: Any) -> list[str]:
    response = await client.get(ENTRIES, headers=caller.headers, params={"limit": 200} | params)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


async def search(client: httpx.AsyncClient, caller: Caller, q: str, **params: Any) -> Any:
    response = await client.get(
        "/api/memory/search", headers=caller.headers, params={"q": q} | params
    )
    assert response.status_code == 200, response.text
    return response.json()
