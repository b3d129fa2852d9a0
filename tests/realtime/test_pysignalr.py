"""A maintained Python SignalR client (`pysignalr`, negotiate version 0 + WebSockets) talks to
the hubs unchanged: events, invocations with completions, errors, and a full chat turn."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pysignalr.client import SignalRClient
from pysignalr.messages import CompletionMessage

from sophon.platform.events import Audience, Event, EventName
from tests.identity_helpers import Caller
from tests.realtime.live import Live, tenant_id_of

# the wire protocol does not depend on the database: SQLite only keeps the suite fast (the
# hub tests that read and write run on both databases)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY


class Received:
    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self.changed = asyncio.Condition()

    def handler(self, name: str) -> Any:
        async def on(arguments: Any) -> None:
            async with self.changed:
                self.items.append((name, arguments[0]))
                self.changed.notify_all()

        return on

    async def wait(self, name: str, within: float = 20) -> Any:
        async with asyncio.timeout(within), self.changed:
            while True:
                for got_name, payload in self.items:
                    if got_name == name:
                        return payload
                await self.changed.wait()


@contextlib.asynccontextmanager
async def running(client: SignalRClient) -> AsyncIterator[None]:
    opened = asyncio.Event()

    async def on_open() -> None:
        opened.set()

    client.on_open(on_open)
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(10):
            await opened.wait()
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def invoke(client: SignalRClient, method: str, *arguments: Any) -> CompletionMessage:
    done: asyncio.Future[CompletionMessage] = asyncio.get_running_loop().create_future()

    async def on_completion(message: Any) -> None:
        done.set_result(message)

    await client.send(method, list(arguments), on_invocation=on_completion)
    async with asyncio.timeout(10):
        return await done


async def test_pysignalr_events_and_invocations(live: Live, owner: Caller) -> None:
    tenant_id = await tenant_id_of(live, owner)
    client = SignalRClient(f"{live.url}/hubs/notifications", headers=dict(owner.headers))
    received = Received()
    client.on("Notification", received.handler("Notification"))
    errors: asyncio.Queue[CompletionMessage] = asyncio.Queue()

    async def on_error(message: CompletionMessage) -> None:
        await errors.put(message)

    client.on_error(on_error)  # pysignalr hands completion errors to this callback
    async with running(client):
        await client.send("NoSuchMethod", [], on_invocation=on_error)
        async with asyncio.timeout(10):
            failed = await errors.get()
        assert "Unknown hub method 'NoSuchMethod'" in str(failed.error)
        payload = {"id": "ntf_py", "kind": "system", "title": "from python", "body": ""}
        await live.gateway.bus.publish(
            Event(
                EventName.NOTIFICATION.value,
                payload,
                tenant_id=tenant_id,
                audience=Audience(user_ids=frozenset({owner.id})),
            )
        )
        assert await received.wait("Notification") == payload


async def test_pysignalr_chat_turn(live: Live, owner: Caller) -> None:
    client = SignalRClient(f"{live.url}/hubs/chat", headers=dict(owner.headers))
    received = Received()
    for name in ("StreamChunk", "ReceiveMessage", "TaskCompleted"):
        client.on(name, received.handler(name))
    async with running(client):
        accepted = await invoke(client, "SendMessage", {"content": "hi from pysignalr"})
        assert accepted.error is None, accepted.error
        task_id = accepted.result["taskId"]  # type: ignore[index]
        completed = await received.wait("TaskCompleted")
        assert completed["taskId"] == task_id
        final = await received.wait("ReceiveMessage")
        assert final["content"] == "(offline echo model) You said: hi from pysignalr"
        chunks = [p["delta"] for n, p in received.items if n == "StreamChunk"]
        assert "".join(chunks) == final["content"]
