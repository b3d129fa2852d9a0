"""Lexical search on both databases: ranking, snippets, filters, visibility, adjustments."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.schemas import EntryIn
from tests.agents.agent_helpers import create_agent
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.memory.memory_helpers import ENTRIES, remember, search
from tests.providers.provider_helpers import tenant_session


async def test_ranked_results_with_highlighted_snippets(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    both = await remember(client, admin, "The quarterly budget review with finance is on Friday.")
    one = await remember(client, admin, "Finance prefers spreadsheets over slides.")
    await remember(client, admin, "The cat is called Miso.")
    found = await search(client, admin, "budget finance")
    assert found["mode"] == "lexical"
    ids = [h["entry"]["id"] for h in found["items"]]
    assert ids == [both["id"], one["id"]]
    top = found["items"][0]
    assert top["score"] > found["items"][1]["score"] > 0
    assert "<mark>budget</mark>" in top["snippet"]
    assert "<mark>finance</mark>" in top["snippet"]
    assert top["matched"] == ["lexical"]
    assert top["entry"]["content"] == both["content"]
    # stemming: "reviews" finds "review"; stopwords alone still work
    assert [h["entry"]["id"] for h in (await search(client, admin, "reviews"))["items"]] == [
        both["id"]
    ]
    assert (await search(client, admin, "zebra"))["items"] == []
    assert (await search(client, admin, "!!!"))["items"] == []


async def test_snippets_are_escaped_and_operators_are_plain_words(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await remember(client, admin, "<script>alert(1)</script> token rotation NEAR done")
    found = await search(client, admin, 'token" OR NEAR(x')
    assert [h["entry"]["id"] for h in found["items"]] == [made["id"]]
    snippet = found["items"][0]["snippet"]
    assert "<script>" not in snippet  # escaped (SQLite) or dropped as markup (PostgreSQL)
    assert "<mark>token</mark>" in snippet


async def test_search_sees_only_visible_entries_and_filters(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    agent = await create_agent(client, admin, "Planner")
    await remember(client, admin, "Admin's private passport number 1234 expires soon.")
    own = await remember(client, alice, "Alice's passport expires in June.", category="fact")
    shared = await remember(
        client, admin, "Remind users to renew their passport.", scope="agent", agentId=agent["id"]
    )
    found = await search(client, alice, "passport")
    assert {h["entry"]["id"] for h in found["items"]} == {own["id"], shared["id"]}
    assert [
        h["entry"]["id"] for h in (await search(client, alice, "passport", scope="agent"))["items"]
    ] == [shared["id"]]
    assert [
        h["entry"]["id"]
        for h in (await search(client, alice, "passport", agent=agent["id"]))["items"]
    ] == [shared["id"]]
    assert (await search(client, alice, "passport", category="preference"))["items"] == []
    assert len((await search(client, admin, "passport", limit=1))["items"]) == 1
    for params, status in (
        ({"q": ""}, 422),
        ({"q": "x", "limit": 0}, 422),
        ({"q": "x", "limit": 51}, 422),
        ({"q": "x", "scope": "team"}, 422),
        ({}, 422),
    ):
        response = await client.get("/api/memory/search", headers=alice.headers, params=params)
        assert_error(response, status, "validation_failed")


async def test_importance_and_validity_adjust_equal_matches(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    low = await remember(client, admin, "Project Lumen deadline", importance=0.0)
    high = await remember(client, admin, "Project Lumen deadline", importance=1.0)
    found = await search(client, admin, "lumen deadline")
    assert [h["entry"]["id"] for h in found["items"]] == [high["id"], low["id"]]
    expired = await client.patch(
        f"{ENTRIES}/{high['id']}",
        headers=admin.headers,
        json={"validTo": "2000-01-01T00:00:00Z", "validFrom": "1999-01-01T00:00:00Z"},
    )
    assert expired.status_code == 200, expired.text
    found = await search(client, admin, "lumen deadline")
    assert [h["entry"]["id"] for h in found["items"]] == [low["id"], high["id"]]


async def test_changed_and_deleted_entries_leave_the_index(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await remember(client, admin, "The wifi password is hunter2.")
    await client.patch(
        f"{ENTRIES}/{made['id']}", headers=admin.headers, json={"content": "Guest network: open."}
    )
    assert (await search(client, admin, "hunter2"))["items"] == []
    assert len((await search(client, admin, "guest"))["items"]) == 1
    await client.delete(f"{ENTRIES}/{made['id']}", headers=admin.headers)
    assert (await search(client, admin, "guest"))["items"] == []


async def test_hidden_better_matches_never_crowd_out_a_visible_one(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    hidden = [EntryIn(content=f"Tide tide tide: harbour tide table {i}.") for i in range(40)]
    async with tenant_session(app.state.gateway, readonly=False) as db:
        me = Actor.agent(db.info["tenant_id"], admin.id, None, admin.email)
        await entries.create_many(db, me, hidden)
    mine = await remember(client, alice, "The neap tide comes on Thursday, said the ferryman.")
    found = await search(client, alice, "tide", limit=1)
    assert [h["entry"]["id"] for h in found["items"]] == [mine["id"]]
    assert "<mark>tide</mark>" in found["items"][0]["snippet"]
    assert len((await search(client, admin, "tide", limit=50))["items"]) == 41
