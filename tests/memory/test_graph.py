"""The entity graph: extraction on write, contradictions close relations, depth rules."""

from __future__ import annotations

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.memory.memory_helpers import ENTRIES, remember

GRAPH = "/api/memory/graph"


async def graph(client: httpx.AsyncClient, caller: Caller, entity: str, **params: object) -> dict:
    response = await client.get(GRAPH, headers=caller.headers, params={"entity": entity} | params)
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_a_contradicting_fact_closes_the_old_relation(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await remember(
        client, admin, "Alice Smith works at Acme Corp.", validFrom="2024-01-01T00:00:00Z"
    )
    await remember(
        client, admin, "Alice Smith works at Globex Inc.", validFrom="2025-06-01T00:00:00Z"
    )
    found = await graph(client, admin, "alice smith")
    names = {n["id"]: n["name"] for n in found["nodes"]}
    works = sorted(
        (names[e["object"]], e["validFrom"], e["validTo"])
        for e in found["edges"]
        if e["predicate"] == "works_at"
    )
    assert works == [
        ("Acme Corp", "2024-01-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z"),
        ("Globex Inc", "2025-06-01T00:00:00.000Z", None),
    ]
    then = await graph(client, admin, "Alice Smith", at="2024-06-01T00:00:00Z")
    then_names = {n["id"]: n["name"] for n in then["nodes"]}
    assert [then_names[e["object"]] for e in then["edges"] if e["predicate"] == "works_at"] == [
        "Acme Corp"
    ]
    now = await graph(client, admin, "Alice Smith", at="2026-01-01T00:00:00Z")
    now_names = {n["id"]: n["name"] for n in now["nodes"]}
    assert [now_names[e["object"]] for e in now["edges"] if e["predicate"] == "works_at"] == [
        "Globex Inc"
    ]


async def test_depth_rules_and_refusals(client: httpx.AsyncClient, admin: Caller) -> None:
    await remember(client, admin, "Project Apollo is run by Dana Reyes.")
    await remember(client, admin, "Dana Reyes mentors Eli Brooks.")
    await remember(client, admin, "Eli Brooks lives in Lisbon.")
    one = await graph(client, admin, "Project Apollo", depth=1)
    assert {n["name"] for n in one["nodes"]} == {"Project Apollo", "Dana Reyes"}
    assert {n["depth"] for n in one["nodes"]} == {0, 1}
    two = await graph(client, admin, "Project Apollo", depth=2)
    assert {n["name"] for n in two["nodes"]} == {"Project Apollo", "Dana Reyes", "Eli Brooks"}
    three = await graph(client, admin, "Project Apollo", depth=3)
    assert {n["name"] for n in three["nodes"]} >= {"Eli Brooks", "Lisbon"}
    node_ids = {n["id"] for n in three["nodes"]}
    assert all({e["subject"], e["object"]} <= node_ids for e in three["edges"])
    apollo = next(n["id"] for n in one["nodes"] if n["name"] == "Project Apollo")
    assert (await graph(client, admin, apollo))["nodes"][0]["name"] == "Project Apollo"
    for params, status, code in (
        ({"entity": "Project Apollo", "depth": 4}, 422, "validation_failed"),
        ({"entity": "Project Apollo", "depth": 0}, 422, "validation_failed"),
        ({"entity": ""}, 422, "validation_failed"),
        ({}, 422, "validation_failed"),
        ({"entity": "Nobody Known"}, 404, "not_found"),
        ({"entity": "ent_01HZZZZZZZZZZZZZZZZZZZZZZZ"}, 404, "not_found"),
    ):
        assert_error(await client.get(GRAPH, headers=admin.headers, params=params), status, code)


async def test_graph_shows_only_what_the_caller_may_see(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    secret = await remember(client, admin, "Victor Hale works at Initech.")
    assert_error(
        await client.get(GRAPH, headers=alice.headers, params={"entity": "Victor Hale"}),
        404,
        "not_found",
    )
    await remember(client, alice, "I met Victor Hale at the conference.")
    seen = await graph(client, alice, "Victor Hale")
    assert "Initech" not in {n["name"] for n in seen["nodes"]}
    assert all(e["sourceEntryId"] != secret["id"] for e in seen["edges"])


async def test_first_person_facts_attach_to_the_user(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await remember(client, admin, "I live in Porto.")
    assert {"admin@example.com", "Porto"} <= {e["name"] for e in made["entities"]}
    found = await graph(client, admin, "admin@example.com")
    assert any(e["predicate"] == "lives_in" for e in found["edges"])
    changed = await client.patch(
        f"{ENTRIES}/{made['id']}", headers=admin.headers, json={"content": "I live in Braga."}
    )
    assert {e["name"] for e in changed.json()["entities"]} >= {"Braga"}
    assert "Porto" not in {e["name"] for e in changed.json()["entities"]}
