"""Driving chat turns through the public API in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from sophon.platform.events import Event, EventBus, Subscription
from tests.identity_helpers import Caller

TERMINAL = ("TaskCompleted", "TaskFailed", "TaskCancelled")


class EventLog:
    """Everything published on the Gateway's bus during a test, with waits on conditions."""

    def __init__(self, bus: EventBus) -> None:
        self._subscription: Subscription = bus.subscribe(max_queue=10_000)
        self.seen: list[Event] = []
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventLog:
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._subscription.close()
        if self._reader is not None:
            await self._reader

    async def _read(self) -> None:
        async for event in self._subscription:
            async with self._changed:
                self.seen.append(event)
                self._changed.notify_all()

    async def wait_for(self, accept: Callable[[Event], bool], within: float = 20.0) -> Event:
        async with asyncio.timeout(within), self._changed:
            while True:
                for event in self.seen:
                    if accept(event):
                        return event
                await self._changed.wait()

    async def named(self, name: str, task_id: str, within: float = 20.0) -> Event:
        return await self.wait_for(
            lambda e: e.name == name and e.payload.get("taskId") == task_id, within
        )

    def of_task(self, task_id: str) -> list[Event]:
        return [e for e in self.seen if e.payload.get("taskId") == task_id]


async def send(
    client: httpx.AsyncClient, caller: Caller, content: str, **fields: Any
) -> dict[str, Any]:
    body = {"content": content} | fields
    response = await client.post("/api/chat", headers=caller.headers, json=body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


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


async def pending_approval(
    client: httpx.AsyncClient, caller: Caller, events: EventLog, task_id: str
) -> dict[str, Any]:
    """Waits for the task's approval request and returns it as the API shows it."""
    requested = await events.wait_for(
        lambda e: e.name == "ApprovalRequested" and e.payload.get("taskId") == task_id
    )
    response = await client.get(f"/api/approvals/{requested.payload['id']}", headers=caller.headers)
    assert response.status_code == 200, response.text
    approval: dict[str, Any] = response.json()
    return approval
