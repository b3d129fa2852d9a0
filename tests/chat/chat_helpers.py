"""Driving chat turns through the public API in tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.identity_helpers import Caller


async def send(
    client: httpx.AsyncClient, caller: Caller, content: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/chat", headers=caller.headers, json={"content": content} | fields)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_task(
    client: httpx.AsyncClient, caller: Caller, task_id: str, seconds: float = 20
) -> dict[str, Any]:
    response = await client.get(
        f"/api/tasks/{task_id}", headers=caller.headers, params={"wait": seconds}
    )
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert task["status"] in ("Completed", "Failed", "Cancelled"), task
    return task


async def messages(
    client: httpx.AsyncClient, caller: Caller, session_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/sessions/{session_id}/messages", headers=caller.headers, params={"limit": 200}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def chat_turn(
    client: httpx.AsyncClient, caller: Caller, content: str, **fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sends a message and waits for its turn; returns (accepted, finished task)."""
    accepted = await send(client, caller, content, **fields)
    return accepted, await wait_task(client, caller, accepted["taskId"])
