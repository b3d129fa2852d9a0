"""The SignalR wire protocol over WebSockets: negotiate, handshake, invocations, pings, closes,
and every bad input answered with an error or a close with a reason."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from sophon.platform.events import Audience, Event, EventName
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.realtime.hub_client import HANDSHAKE, RS, RawHub
from tests.realtime.live import Live, tenant_id_of

# the wire protocol does not depend on the database: SQLite only keeps the suite fast (the
# hub tests that read and write run on both databases)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
pytestmark = SQLITE_ONLY


async def negotiate(live: Live, caller: Caller, hub: str = "notifications") -> dict[str, object]:
    response = await live.http.post(
        f"/hubs/{hub}/negotiate", params={"negotiateVersion": 1}, headers=caller.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_negotiate_answers_the_signalr_shape(live: Live, owner: Caller) -> None:
    body = await negotiate(live, owner)
    assert set(body) == {
        "negotiateVersion", "connectionId", "connectionToken", "availableTransports"
    }  # fmt: skip
    assert body["negotiateVersion"] == 1
    assert body["connectionId"] != body["connectionToken"]
    assert [t["transport"] for t in body["availableTransports"]] == [  # type: ignore[attr-defined]
        "WebSockets", "ServerSentEvents", "LongPolling"
    ]  # fmt: skip
    legacy = await live.http.post("/hubs/chat/negotiate", headers=owner.headers)
    assert legacy.json()["negotiateVersion"] == 0
    assert "connectionToken" not in legacy.json()  # version 0: the id is the token


async def test_negotiate_refuses_bad_callers_and_hubs(live: Live, owner: Caller) -> None:
    url = "/hubs/chat/negotiate?negotiateVersion=1"
    assert_error(await live.http.post(url), 401, "unauthenticated")
    bad = {"Authorization": "Bearer not-a-token"}
    assert_error(await live.http.post(url, headers=bad), 401, "unauthenticated")
    assert_error(await live.http.post(f"{url}&access_token=sk_nope"), 401, "unauthenticated")
    unknown = await live.http.post("/hubs/nope/negotiate", headers=owner.headers)
    assert_error(unknown, 404, "not_found")
    assert live.hubs.connection_count == 0  # nothing was opened


async def test_websocket_with_connection_token(live: Live, owner: Caller) -> None:
    body = await negotiate(live, owner)
    url = f"{live.ws_url}/hubs/notifications?id={body['connectionToken']}"
    async with await RawHub.open(url) as hub:
        assert await hub.next() == {"type": 6}  # keep-alive ping
        assert live.hubs.connection_count == 1
    with pytest.raises(InvalidStatus) as refused:
        await RawHub.open(f"{live.ws_url}/hubs/notifications?id=unknown-token")
    assert refused.value.response.status_code == 404


async def test_skip_negotiation_authenticates_by_query_or_header(live: Live, owner: Caller) -> None:
    by_query = f"{live.ws_url}/hubs/notifications?access_token={owner.token}"
    async with await RawHub.open(by_query) as hub:
        assert await hub.next() == {"type": 6}
    by_header = f"{live.ws_url}/hubs/notifications"
    async with await RawHub.open(by_header, headers=owner.headers) as hub:
        assert await hub.next() == {"type": 6}
    for url, headers in [
        (by_header, {}),
        (f"{by_header}?access_token=garbage", {}),
        (by_header, {"Authorization": "Basic abc"}),
    ]:
        with pytest.raises(InvalidStatus) as refused:
            await RawHub.open(url, headers=headers)
        assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as unknown:
        await RawHub.open(f"{live.ws_url}/hubs/nope?access_token={owner.token}")
    assert unknown.value.response.status_code == 404


@pytest.mark.parametrize(
    ("handshake", "reason"),
    [
        ('{"protocol":"messagepack","version":1}', "not supported"),
        ('{"protocol":"json","version":2}', "version 2"),
        ("{not json", "not valid JSON"),
        ('{"version":1}', "no 'protocol'"),
    ],
)
async def test_bad_handshake_gets_an_error_and_a_close(
    live: Live, owner: Caller, handshake: str, reason: str
) -> None:
    hub = await RawHub.open(f"{live.ws_url}/hubs/chat?access_token={owner.token}", handshake=False)
    await hub.send_text(handshake + RS)
    answer = await hub.next()
    assert reason in answer["error"], answer
    close, code = await hub.closed()
    assert close is None  # no Close message before a completed handshake
    assert code == 1000
    assert live.hubs.connection_count == 0


async def test_unknown_methods_and_wrong_arguments_are_completion_errors(
    live: Live, owner: Caller
) -> None:
    async with await RawHub.open(f"{live.ws_url}/hubs/chat?access_token={owner.token}") as hub:
        unknown = await hub.invoke("NoSuchMethod", 1)
        assert (
            unknown["error"] == "Failed to invoke 'NoSuchMethod'. Unknown hub method 'NoSuchMethod'"
        )
        arity = await hub.invoke("JoinSession")
        assert "provides 0 argument(s) but 'JoinSession' expects 1" in arity["error"]
        typed = await hub.invoke("JoinSession", 42)
        assert typed["error"] == "'sessionId' must be a non-empty string."
        await hub.send(
            {"type": 4, "invocationId": "s1", "target": "JoinSession", "arguments": ["x"]}
        )
        streamed = await hub.next_matching(lambda m: m.get("invocationId") == "s1")
        assert "non-streaming 'JoinSession' method with a streaming invocation" in streamed["error"]
        case_insensitive = await hub.invoke("joinsession", "sess_missing")
        assert case_insensitive["error"] == "No such session."
        # an invocation without an id is not answered, even when it fails
        await hub.send({"type": 1, "target": "NoSuchMethod", "arguments": []})
        await hub.send({"type": 6})
        assert (await hub.invoke("LeaveSession", "sess_x")) == {
            "type": 3, "invocationId": "5"
        }  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("{oops", "not valid JSON"),
        ("[1,2]", "must be a JSON object"),
        ('{"type":99}', "Unknown message type: 99"),
        ('{"target":"x"}', "Unknown message type: None"),
        ('{"type":1,"target":"","arguments":[]}', "no 'target'"),
        ('{"type":1,"target":"X","arguments":{}}', "must be an array"),
        ('{"type":4,"target":"X","arguments":[]}', "needs an 'invocationId'"),
        ('{"type":2,"invocationId":"1","item":1}', "not supported"),
    ],
)
async def test_malformed_frames_close_with_a_reason(
    live: Live, owner: Caller, frame: str, reason: str
) -> None:
    hub = await RawHub.open(f"{live.ws_url}/hubs/chat?access_token={owner.token}")
    await hub.send_text(frame + RS)
    close, code = await hub.closed()
    assert close is not None
    assert reason in close["error"], close
    assert "allowReconnect" not in close
    assert code == 1000
    assert live.hubs.connection_count == 0
    # the Gateway is unharmed
    async with await RawHub.open(f"{live.ws_url}/hubs/chat?access_token={owner.token}") as again:
        assert (await again.invoke("LeaveSession", "s"))["type"] == 3


async def test_several_frames_in_one_message_and_a_frame_split_across_two(
    live: Live, owner: Caller
) -> None:
    hub = await RawHub.open(f"{live.ws_url}/hubs/chat?access_token={owner.token}", handshake=False)
    first = json.dumps(
        {"type": 1, "invocationId": "a", "target": "LeaveSession", "arguments": ["s"]}
    )
    await hub.send_text(HANDSHAKE + first + RS + first[:10])
    await hub.send_text(first[10:].replace('"a"', '"b"') + RS)
    assert await hub.next() == {}
    completions = [await hub.next_matching(lambda m: m.get("type") == 3) for _ in range(2)]
    assert [c["invocationId"] for c in completions] == ["a", "b"]
    await hub.aclose()


async def test_events_reach_the_user_as_server_invocations(live: Live, owner: Caller) -> None:
    tenant_id = await tenant_id_of(live, owner)
    async with await RawHub.open(
        f"{live.ws_url}/hubs/notifications?access_token={owner.token}"
    ) as hub:
        await hub.invoke("Nothing")  # the handshake and registration are done
        payload = {"id": "ntf_1", "kind": "system", "title": "Hi", "body": "there"}
        await live.gateway.bus.publish(
            Event(
                EventName.NOTIFICATION.value,
                payload,
                tenant_id=tenant_id,
                audience=Audience(user_ids=frozenset({owner.id})),
            )
        )
        message = await hub.next_matching(lambda m: m.get("type") == 1)
        assert message == {"type": 1, "target": "Notification", "arguments": [payload]}
