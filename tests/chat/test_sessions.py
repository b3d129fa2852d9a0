"""Sessions and messages: validation, idempotency, ordering, listing, fork, delete, and the rule
that a session belongs to its user alone."""

from __future__ import annotations

import asyncio

import httpx

from tests.chat.chat_helpers import chat_turn, messages, send, wait_task
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user


async def _count(client: httpx.AsyncClient, caller: Caller) -> int:
    response = await client.get("/api/sessions", headers=caller.headers, params={"limit": 200})
    return len(response.json()["items"])


async def test_bad_messages_are_refused_and_store_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for body, status, code in [
        ({"content": ""}, 422, "validation_failed"),
        ({"content": "x" * 32_001}, 422, "validation_failed"),
        ({"content": "hi", "surprise": 1}, 422, "validation_failed"),
        ({"content": "hi", "agentId": "agt_missing"}, 404, "not_found"),
        ({"content": "hi", "sessionId": "sess_missing"}, 404, "not_found"),
    ]:
        response = await client.post("/api/chat", headers=admin.headers, json=body)
        assert_error(response, status, code)
    assert await _count(client, admin) == 0
    tasks = await client.get("/api/tasks/history", headers=admin.headers)
    assert tasks.json()["items"] == []


async def test_an_agent_can_be_named_instead_of_its_id(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await client.post("/api/agents", headers=admin.headers, json={"name": "Helper Bot"})
    assert made.status_code == 201, made.text
    agent_id = made.json()["id"]
    accepted = await send(client, admin, "hi", agentId="helper bot")
    session = await client.get(f"/api/sessions/{accepted['sessionId']}", headers=admin.headers)
    assert session.json()["agentId"] == agent_id
    again = await send(client, admin, "more", agentId="Helper Bot", sessionId=session.json()["id"])
    assert again["sessionId"] == accepted["sessionId"]
    other = await client.post(
        "/api/chat",
        headers=admin.headers,
        json={"content": "x", "agentId": "default", "sessionId": accepted["sessionId"]},
    )
    assert_error(other, 409, "conflict")

    unknown = await client.post(
        "/api/chat", headers=admin.headers, json={"content": "hi", "agentId": "Nobody"}
    )
    error = assert_error(unknown, 404, "not_found")
    assert "GET /api/agents" in error["message"]
    assert error["details"] == {"agentId": "Nobody"}
    assert await _count(client, admin) == 1


async def test_an_idempotency_key_makes_a_retry_return_the_first_answer(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    headers = admin.headers | {"Idempotency-Key": "retry-1"}
    first = await client.post("/api/chat", headers=headers, json={"content": "once"})
    again = await client.post("/api/chat", headers=headers, json={"content": "once"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    await wait_task(client, admin, first.json()["taskId"])
    history = await messages(client, admin, first.json()["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant"]
    other = await client.post("/api/chat", headers=headers, json={"content": "different"})
    assert_error(other, 409, "conflict")
    assert await _count(client, admin) == 1


async def test_a_retried_message_to_a_session_counts_once_and_replays_after_the_session_is_gone(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    first = await send(client, admin, "start")
    session = first["sessionId"]
    await wait_task(client, admin, first["taskId"])
    headers = admin.headers | {"Idempotency-Key": "retry-2"}
    body = {"content": "again", "sessionId": session}
    sent = await client.post("/api/chat", headers=headers, json=body)
    retried = await client.post("/api/chat", headers=headers, json=body)
    assert sent.status_code == retried.status_code == 202
    assert sent.json() == retried.json()
    await wait_task(client, admin, sent.json()["taskId"])
    shown = (await client.get(f"/api/sessions/{session}", headers=admin.headers)).json()
    assert shown["messageCount"] == 4
    assert [m["content"] for m in await messages(client, admin, session)].count("again") == 1
    other = await client.post("/api/chat", headers=headers, json={**body, "content": "other"})
    assert_error(other, 409, "conflict")
    deleted = await client.delete(f"/api/sessions/{session}", headers=admin.headers)
    assert deleted.status_code == 204
    late = await client.post("/api/chat", headers=headers, json=body)
    assert late.status_code == 202
    assert late.json() == sent.json()
    assert_error(
        await client.post("/api/chat", headers=headers, json={**body, "content": "x"}),
        409,
        "conflict",
    )


async def test_messages_of_one_session_are_answered_in_order(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    first = await send(client, admin, "one")
    session = first["sessionId"]
    rest = [await send(client, admin, text, sessionId=session) for text in ("two", "three")]
    finished = [await wait_task(client, admin, a["taskId"]) for a in [first, *rest]]
    assert all(t["status"] == "Completed" for t in finished)
    history = await messages(client, admin, session)
    asked = [m["content"] for m in history if m["role"] == "user"]
    answered = [m["content"] for m in history if m["role"] == "assistant"]
    assert asked == ["one", "two", "three"]
    assert answered == [f"(offline echo model) You said: {text}" for text in asked]
    starts = [t["startedAt"] for t in finished]
    ends = [t["finishedAt"] for t in finished]
    assert starts[1] >= ends[0]
    assert starts[2] >= ends[1]


async def test_sessions_list_filter_rename_and_archive(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    a, _ = await chat_turn(client, admin, "first session", channelId="cli")
    b, _ = await chat_turn(client, admin, "second session")
    listed = (await client.get("/api/sessions", headers=admin.headers)).json()["items"]
    assert [s["id"] for s in listed] == [b["sessionId"], a["sessionId"]]
    by_channel = await client.get(
        "/api/sessions", headers=admin.headers, params={"channelId": "cli"}
    )
    assert [s["id"] for s in by_channel.json()["items"]] == [a["sessionId"]]
    patched = await client.patch(
        f"/api/sessions/{a['sessionId']}",
        headers=admin.headers,
        json={"title": "Renamed", "archived": True},
    )
    assert patched.json()["title"] == "Renamed"
    assert patched.json()["archived"] is True
    archived = await client.get("/api/sessions", headers=admin.headers, params={"archived": True})
    assert [s["id"] for s in archived.json()["items"]] == [a["sessionId"]]


async def test_message_history_pages_with_a_cursor(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, _ = await chat_turn(client, admin, "one")
    await chat_turn(client, admin, "two", sessionId=accepted["sessionId"])
    url = f"/api/sessions/{accepted['sessionId']}/messages"
    page = (await client.get(url, headers=admin.headers, params={"limit": 3})).json()
    assert len(page["items"]) == 3
    assert page["hasMore"] is True
    rest = await client.get(url, headers=admin.headers, params={"cursor": page["nextCursor"]})
    contents = [m["content"] for m in page["items"] + rest.json()["items"]]
    assert contents[0] == "one"
    assert contents[2] == "two"
    assert len(contents) == 4


async def test_fork_copies_history_up_to_a_message_and_links_the_parent(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, _ = await chat_turn(client, admin, "one")
    await chat_turn(client, admin, "two", sessionId=accepted["sessionId"])
    parent = accepted["sessionId"]
    history = await messages(client, admin, parent)
    forked = await client.post(
        f"/api/sessions/{parent}/fork",
        headers=admin.headers,
        json={"fromMessageId": history[1]["id"]},
    )
    assert forked.status_code == 201, forked.text
    child = forked.json()
    assert child["parentSessionId"] == parent
    assert child["messageCount"] == 2
    copied = await messages(client, admin, child["id"])
    assert [m["content"] for m in copied] == [m["content"] for m in history[:2]]
    _, task = await chat_turn(client, admin, "three", sessionId=child["id"])
    assert task["status"] == "Completed"
    assert len(await messages(client, admin, parent)) == 4  # the parent is untouched
    whole = await client.post(f"/api/sessions/{parent}/fork", headers=admin.headers)
    assert whole.json()["messageCount"] == 4
    missing = await client.post(
        f"/api/sessions/{parent}/fork", headers=admin.headers, json={"fromMessageId": "msg_no"}
    )
    assert_error(missing, 404, "not_found")


async def test_delete_removes_the_session_and_its_messages(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, _ = await chat_turn(client, admin, "bye")
    url = f"/api/sessions/{accepted['sessionId']}"
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert_error(await client.get(url, headers=admin.headers), 404, "not_found")
    assert_error(await client.get(f"{url}/messages", headers=admin.headers), 404, "not_found")
    assert_error(await client.delete(url, headers=admin.headers), 404, "not_found")


async def test_another_users_sessions_tasks_and_approvals_are_invisible(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    mine, task = await chat_turn(client, admin, "private")
    other = await add_user(client, admin, "other@example.com", roles=["Member"])
    session = mine["sessionId"]
    for method, url in [
        ("GET", f"/api/sessions/{session}"),
        ("GET", f"/api/sessions/{session}/messages"),
        ("POST", f"/api/sessions/{session}/fork"),
        ("PATCH", f"/api/sessions/{session}"),
        ("DELETE", f"/api/sessions/{session}"),
        ("GET", f"/api/tasks/{task['id']}"),
        ("POST", f"/api/tasks/{task['id']}/cancel"),
    ]:
        response = await client.request(method, url, headers=other.headers, json={})
        assert_error(response, 404, "not_found")
    posted = await client.post(
        "/api/chat", headers=other.headers, json={"content": "sneak", "sessionId": session}
    )
    assert_error(posted, 404, "not_found")
    assert await _count(client, other) == 0
    history = await client.get("/api/tasks/history", headers=other.headers)
    assert history.json()["items"] == []
    assert len(await messages(client, admin, session)) == 2


async def test_concurrent_sends_to_one_session_all_get_answers(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    first = await send(client, admin, "start")
    session = first["sessionId"]
    sent = await asyncio.gather(
        *(send(client, admin, f"m{n}", sessionId=session) for n in range(4))
    )
    for accepted in [first, *sent]:
        assert (await wait_task(client, admin, accepted["taskId"]))["status"] == "Completed"
    history = await messages(client, admin, session)
    asked = [m["content"] for m in history if m["role"] == "user"]
    answered = [m["content"] for m in history if m["role"] == "assistant"]
    assert answered == [f"(offline echo model) You said: {text}" for text in asked]
