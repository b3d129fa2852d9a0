"""The in-memory event store behind resumable `/mcp/http` streams: replays a stream's events
after the last one a client saw, never another stream's, and stays bounded."""

from __future__ import annotations

import mcp_types as types
from mcp.server.streamable_http import EventMessage

from sophon.mcp.event_store import MemoryEventStore


def _note(n: int) -> types.JSONRPCMessage:
    return types.JSONRPCNotification(jsonrpc="2.0", method=f"notifications/n{n}")  # type: ignore[return-value]


async def test_replay_after_the_last_seen_event_of_the_same_stream() -> None:
    store = MemoryEventStore(max_events=5)
    first = await store.store_event("a", _note(1))
    await store.store_event("b", _note(2))
    await store.store_event("a", _note(3))
    replayed: list[EventMessage] = []

    async def collect(event: EventMessage) -> None:
        replayed.append(event)

    assert await store.replay_events_after(first, collect) == "a"
    assert [e.message.method for e in replayed] == ["notifications/n3"]  # type: ignore[union-attr]
    for n in range(10):
        await store.store_event("a", _note(n))
    assert await store.replay_events_after(first, collect) is None  # evicted
