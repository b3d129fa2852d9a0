"""The hubs' own methods and events: a full chat turn over `/hubs/chat`, session groups, the
tasks hub (owner, `ViewActiveTasks`, `StreamTask`) and the approvals hub's decisions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from sophon.platform.events import Audience, Event, EventName, MemoryEventBus
from sophon.settings import Settings
from tests.chat.chat_helpers import send, wait_task
from tests.identity_helpers import Caller, add_user
from tests.realtime.hub_client import RawHub
from tests.realtime.live import Live, tenant_id_of, until

TURN = ["TaskQueued", "TaskStarted", "StreamChunk", "ReceiveMessage", "TaskCompleted"]


async def hub(live: Live, caller: Caller, name: str) -> RawHub:
    conn = await RawHub.open(f"{live.ws_url}/hubs/{name}?access_token={caller.token}")
    await conn.invoke("Ping")
    return conn


async def events_until(conn: RawHub, last: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["target"] != last:
        seen.append(await conn.next_matching(lambda m: m.get("type") == 1, within=20))
    return seen


async def test_a_full_chat_turn_streams_over_the_chat_hub(live: Live, owner: Caller) -> None:
    async with await hub(live, owner, "chat") as chat:
        accepted = await chat.result(
            "SendMessage",
            {
                "content": "Hello hub",
                "channelId": "webchat",
                "attachments": [],
                "isStreaming": True,
            },
        )
        assert set(accepted) == {"taskId", "sessionId", "messageId"}
        seen = await events_until(chat, "TaskCompleted")
        names = [m["target"] for m in seen]
        assert [n for n in TURN if n in names] == TURN
        assert names[0] == "TaskQueued"  # SendMessage joined the group before it was released
        payloads = {m["target"]: m["arguments"][0] for m in seen}
        assert payloads["TaskQueued"]["taskId"] == accepted["taskId"]
        assert payloads["TaskQueued"]["sessionId"] == accepted["sessionId"]
        chunks = [m["arguments"][0] for m in seen if m["target"] == "StreamChunk"]
        text = "".join(c["delta"] for c in chunks)
        assert text == "(offline echo model) You said: Hello hub"
        assert chunks[-1]["isFinal"] is True
        final = payloads["ReceiveMessage"]
        assert final["role"] == "assistant"
        assert final["content"] == text
        assert {"taskId", "durationMs", "tokensUsed"} <= set(payloads["TaskCompleted"])


async def test_task_queued_reaches_the_session_group(live: Live, owner: Caller) -> None:
    async with await hub(live, owner, "chat") as chat:
        accepted = await chat.result("SendMessage", {"content": "queued?"})
        queued = await chat.event("TaskQueued", within=5)
        assert queued["taskId"] == accepted["taskId"]
        assert queued["sessionId"] == accepted["sessionId"]


async def test_session_groups_are_joined_only_by_who_may_see_them(
    live: Live, owner: Caller
) -> None:
    stranger = await add_user(live.http, owner, "stranger@example.com", ["Admin"])
    first = await send(live.http, owner, "first")
    await wait_task(live.http, owner, first["taskId"])
    session_id = first["sessionId"]
    async with (
        await hub(live, owner, "chat") as watcher,
        await hub(live, owner, "chat") as elsewhere,
        await hub(live, stranger, "chat") as intruder,
    ):
        refused = await intruder.invoke("JoinSession", session_id)
        assert refused["error"] == "No such session."  # even an Admin: sessions are private
        assert (await watcher.invoke("JoinSession", session_id)).get("error") is None
        second = await send(live.http, owner, "second", sessionId=session_id)
        seen = await events_until(watcher, "TaskCompleted")
        assert seen[0]["arguments"][0]["taskId"] == second["taskId"]
        # not joined: the owner's other connection and the stranger get nothing of it
        for conn in (elsewhere, intruder):
            assert (await conn.invoke("Ping"))["type"] == 3
            assert conn.events() == []
        await watcher.result("LeaveSession", session_id)
        third = await send(live.http, owner, "third", sessionId=session_id)
        await wait_task(live.http, owner, third["taskId"])
        assert (await watcher.invoke("Ping"))["type"] == 3
        assert third["taskId"] not in {m["arguments"][0]["taskId"] for m in watcher.events()}


async def test_tasks_hub_owner_and_view_active_tasks(live: Live, owner: Caller) -> None:
    plain = await add_user(live.http, owner, "plain@example.com", ["Member"])
    viewer = await add_user(live.http, owner, "viewer@example.com", ["Viewer"])
    async with (
        await hub(live, plain, "tasks") as plains,
        await hub(live, viewer, "tasks") as viewers,
        await hub(live, owner, "tasks") as owners,
    ):
        mine = await send(live.http, plain, "mine")
        for conn in (plains, viewers, owners):  # owner, Viewer and Admin hold ViewActiveTasks
            seen = await events_until(conn, "TaskCompleted")
            assert {m["arguments"][0]["taskId"] for m in seen} == {mine["taskId"]}
            assert "StreamChunk" not in {m["target"] for m in seen}  # lifecycle only
        theirs = await send(live.http, owner, "theirs")
        await events_until(viewers, "TaskCompleted")
        assert (await plains.invoke("Ping"))["type"] == 3
        ids = {m["arguments"][0]["taskId"] for m in plains.events()}
        assert theirs["taskId"] not in ids  # no ViewActiveTasks: only the user's own tasks


async def processing(live: Live, caller: Caller, action: str) -> None:
    """Pauses or resumes the Gateway's dequeuing of agent turns (`/api/ops`)."""
    response = await live.http.post(f"/api/ops/{action}", headers=caller.headers)
    assert response.status_code == 200, response.text


async def test_stream_task_streams_one_tasks_events(live: Live, owner: Caller) -> None:
    bus = live.gateway.bus
    assert isinstance(bus, MemoryEventBus)
    async with await hub(live, owner, "tasks") as tasks:
        await processing(live, owner, "pause")  # the turn waits until the stream is listening
        accepted = await send(live.http, owner, "stream me")
        before = bus.subscriber_count
        await tasks.send(
            {
                "type": 4,
                "invocationId": "st",
                "target": "StreamTask",
                "arguments": [accepted["taskId"]],
            }
        )
        await until(lambda: bus.subscriber_count == before + 1)
        await processing(live, owner, "resume")
        items: list[dict[str, Any]] = []
        while True:
            message = await tasks.next_matching(lambda m: m.get("invocationId") == "st")
            if message["type"] == 3:
                assert "error" not in message, message
                break
            items.append(message["item"])
        names = [i["event"] for i in items]
        assert names[0] == "TaskStarted"  # every event from the subscription on
        assert names[-1] == "TaskCompleted"
        assert all(i["payload"]["taskId"] == accepted["taskId"] for i in items)
        # a finished task's stream completes at once; an unknown one is an error
        again = {"type": 4, "invocationId": "st2", "target": "StreamTask"}
        await tasks.send(again | {"arguments": [accepted["taskId"]]})
        done = await tasks.next_matching(lambda m: m.get("invocationId") == "st2")
        assert done == {"type": 3, "invocationId": "st2"}
        await tasks.send(again | {"invocationId": "st3", "arguments": ["task_nope"]})
        missing = await tasks.next_matching(lambda m: m.get("invocationId") == "st3")
        assert missing["error"] == "No such task."
        await tasks.send(again | {"invocationId": "st4", "arguments": ["task_x"], "type": 1})
        wrong = await tasks.next_matching(lambda m: m.get("invocationId") == "st4")
        assert "non-streaming invocation" in wrong["error"]


class TestWithoutWorkers:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"run_workers": False})  # turns stay queued

    async def test_cancel_invocation_stops_a_stream(self, live: Live, owner: Caller) -> None:
        bus = live.gateway.bus
        assert isinstance(bus, MemoryEventBus)
        async with await hub(live, owner, "tasks") as tasks:
            queued = await send(live.http, owner, "never runs")
            before = bus.subscriber_count
            await tasks.send(
                {"type": 4, "invocationId": "c1", "target": "StreamTask",
                 "arguments": [queued["taskId"]]}
            )  # fmt: skip
            await until(lambda: bus.subscriber_count == before + 1)
            await tasks.send({"type": 5, "invocationId": "c1"})
            await until(lambda: bus.subscriber_count == before)
            assert (await tasks.invoke("Ping"))["type"] == 3
            assert not tasks.seen(lambda m: m.get("invocationId") == "c1")


async def test_approvals_hub_decisions_follow_the_rest_rules(live: Live, owner: Caller) -> None:
    plain = await add_user(live.http, owner, "plain@example.com", ["Member"])
    tenant_id = await tenant_id_of(live, owner)
    async with (
        await hub(live, owner, "approvals") as approver,
        await hub(live, plain, "approvals") as requester,
    ):
        missing = await approver.invoke("Approve", "apr_missing")
        assert missing["error"] == "No such approval."
        assert "'id' must be" in (await approver.invoke("Reject", None))["error"]
        edit = await approver.invoke("Edit", "apr_missing", "not an object")
        assert edit["error"] == "'arguments' must be a JSON object."
        payload = {"id": "apr_1", "taskId": "task_1", "sessionId": "sess_1", "status": "Pending"}
        await live.gateway.bus.publish(
            Event(
                EventName.APPROVAL_REQUESTED.value,
                payload,
                tenant_id=tenant_id,
                audience=Audience(user_ids=frozenset({plain.id})),
            )
        )
        for conn in (approver, requester):  # the requester, and holders of ApproveActions
            assert await conn.event("ApprovalRequested") == payload
        for method in ("Approve", "Reject"):  # deciding needs ApproveActions (issue 16)
            refused = await requester.invoke(method, "apr_1")
            assert refused["error"] == "Missing required permission: ApproveActions"


async def test_a_tokens_subset_binds_on_the_hubs(live: Live, owner: Caller) -> None:
    """Issue 16: a `["ViewUsers"]` token opens only the notifications hub; skipping negotiation
    does not get around it."""
    made = await live.http.post(
        "/api/auth/tokens",
        headers=owner.headers,
        json={"name": "narrow", "permissions": ["ViewUsers"]},
    )
    assert made.status_code == 201, made.text
    narrow = Caller(owner.email, made.json()["token"], owner.user)
    for name, permission in (
        ("chat", "UseChat"),
        ("tasks", "UseChat"),
        ("approvals", "UseChat"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            await hub(live, narrow, name)
        assert refused.value.response.status_code == 403
        body = json.loads(refused.value.response.body or b"{}")
        assert body["error"]["code"] == "not_authorized"
        assert body["error"]["details"]["permission"] == permission
        negotiated = await live.http.post(f"/hubs/{name}/negotiate", headers=narrow.headers)
        assert negotiated.status_code == 403, negotiated.text
    assert live.hubs.connection_count == 0
    async with await hub(live, narrow, "notifications") as notices:
        assert (await notices.invoke("Ping"))["type"] == 3
