"""Server-Sent Events and Long Polling, for clients behind proxies that block WebSockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sophon.platform.events import Audience, Event, EventName
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.realtime.hub_client import HANDSHAKE, RS
from tests.realtime.live import Live, tenant_id_of

# the wire protocol does not depend on the database: SQLite only keeps the suite fast (the
# hub tests that read and write run on both databases)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY


async def negotiate(live: Live, caller: Caller, hub: str = "notifications") -> str:
    response = await live.http.post(
        f"/hubs/{hub}/negotiate?negotiateVersion=1", headers=caller.headers
    )
    assert response.status_code == 200, response.text
    return str(response.json()["connectionToken"])


def invocation(invocation_id: str, target: str, *arguments: Any) -> str:
    body = {"type": 1, "invocationId": invocation_id, "target": target, "arguments": arguments}
    return json.dumps(body) + RS


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(part) for part in text.split(RS)[:-1]]


async def sse_messages(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """SSE events split by hand: `aiter_lines` would also split at the record separator."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        *events, buffer = buffer.split("\r\n\r\n")
        for event in events:
            for line in event.split("\r\n"):
                if line.startswith("data: "):
                    for message in records(line.removeprefix("data: ")):
                        yield message


async def publish_notification(live: Live, caller: Caller, title: str) -> dict[str, Any]:
    tenant_id = await tenant_id_of(live, caller)
    payload = {"id": "ntf_x", "kind": "system", "title": title, "body": ""}
    await live.gateway.bus.publish(
        Event(
            EventName.NOTIFICATION.value,
            payload,
            tenant_id=tenant_id,
            audience=Audience(user_ids=frozenset({caller.id})),
        )
    )
    return payload


async def test_server_sent_events(live: Live, owner: Caller) -> None:
    token = await negotiate(live, owner)
    url = f"/hubs/notifications?id={token}"
    headers = {"Accept": "text/event-stream"}
    async with live.http.stream("GET", url, headers=headers) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        messages = sse_messages(stream)
        sent = await live.http.post(url, content=HANDSHAKE, headers={"Content-Type": "text/plain"})
        assert sent.status_code == 200
        async with asyncio.timeout(10):
            assert await anext(messages) == {}
            await live.http.post(url, content=invocation("1", "Nope"))
            reply = await _skip_pings(messages)
            assert reply["invocationId"] == "1"
            assert "Unknown hub method" in reply["error"]
            payload = await publish_notification(live, owner, "over SSE")
            event = await _skip_pings(messages)
            assert event == {"type": 1, "target": "Notification", "arguments": [payload]}
        second = await live.http.get(url, headers=headers)
        assert_error(second, 409, "conflict")  # one event stream per connection
        await live.http.post(url, content=json.dumps({"type": 7}) + RS)
        async with asyncio.timeout(10):
            async for _ in messages:  # the stream ends when the connection closes
                pass
    assert live.hubs.connection_count == 0


async def test_long_polling(live: Live, owner: Caller) -> None:
    token = await negotiate(live, owner)
    url = f"/hubs/notifications?id={token}"
    first = await live.http.get(url)
    assert (first.status_code, first.text) == (200, "")  # the first poll returns at once
    assert (await live.http.post(url, content=HANDSHAKE)).status_code == 200
    assert records((await live.http.get(url)).text) == [{}]
    payload = await publish_notification(live, owner, "over long polling")
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not got:  # polls also return with keep-alive pings
            got = [m for m in records((await live.http.get(url)).text) if m["type"] != 6]
    assert got == [{"type": 1, "target": "Notification", "arguments": [payload]}]
    deleted = await live.http.delete(url)
    assert deleted.status_code == 202
    assert (await live.http.get(url)).status_code in (204, 404)  # ended: no more polls
    assert live.hubs.connection_count == 0


async def test_transport_requests_need_a_known_connection(live: Live, owner: Caller) -> None:
    assert_error(await live.http.get("/hubs/chat?id=nope"), 404, "not_found")
    assert_error(await live.http.post("/hubs/chat?id=nope", content="x"), 404, "not_found")
    assert_error(await live.http.delete("/hubs/chat?id=nope"), 404, "not_found")
    assert_error(await live.http.get("/hubs/chat"), 401, "unauthenticated")
    no_id = await live.http.get("/hubs/chat", headers=owner.headers)
    assert_error(no_id, 400, "invalid_request")
    token = await negotiate(live, owner, "chat")
    assert_error(await live.http.get(f"/hubs/notifications?id={token}"), 404, "not_found")
    bad_utf8 = await live.http.post(f"/hubs/chat?id={token}", content=b"\xff\xfe")
    assert_error(bad_utf8, 400, "invalid_request")
    await live.http.get(f"/hubs/chat?id={token}")  # Long Polling now
    sse = await live.http.get(f"/hubs/chat?id={token}", headers={"Accept": "text/event-stream"})
    assert_error(sse, 409, "conflict")  # no change of transport mid-connection


async def _skip_pings(messages: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async for message in messages:
        if message.get("type") != 6:
            return message
    raise AssertionError("the stream ended")
