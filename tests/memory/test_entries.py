"""Memory entries: fields, validation, visibility, versions, audit, lists and filters."""

from __future__ import annotations

import httpx

from tests.agents.agent_helpers import audit_actions, create_agent
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.memory.memory_helpers import ENTRIES, entry_ids, remember


async def test_create_read_and_fields(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await remember(
        client,
        admin,
        "Alice Smith works at Acme Corp since 2024-03-01.",
        category="fact",
        tags=["Work", "people"],
        importance=0.8,
        source={"type": "chat", "sessionId": "sess_x", "messageId": "msg_y"},
    )
    assert made["id"].startswith("mem_")
    assert made["scope"] == "user"
    assert made["userId"] == admin.id
    assert made["agentId"] is None
    assert made["tags"] == ["work", "people"]
    assert made["importance"] == 0.8
    assert made["source"] == {"type": "chat", "sessionId": "sess_x", "messageId": "msg_y"}
    assert made["version"] == 1
    assert made["validTo"] is None
    assert made["createdAt"].endswith("Z")
    assert made["validFrom"].endswith("Z")
    names = {(e["name"], e["type"]) for e in made["entities"]}
    assert {
        ("Alice Smith", "person"),
        ("Acme Corp", "organization"),
        ("2024-03-01", "date"),
    } <= names
    fetched = await client.get(f"{ENTRIES}/{made['id']}", headers=admin.headers)
    assert fetched.status_code == 200
    assert fetched.json() == made
    assert "memory.create" in await audit_actions(client, admin, "memory.")


async def test_bad_input_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    cases = [
        ({"content": ""}, 422, "validation_failed"),
        ({"content": "   "}, 422, "validation_failed"),
        ({"content": "x", "scope": "team"}, 422, "validation_failed"),
        ({"content": "x", "category": "rumour"}, 422, "validation_failed"),
        ({"content": "x", "scope": "agent"}, 422, "validation_failed"),
        ({"content": "x", "importance": 1.5}, 422, "validation_failed"),
        ({"content": "x", "tags": ["has space"]}, 422, "validation_failed"),
        ({"content": "x", "bogus": 1}, 422, "validation_failed"),
        ({"content": "x" * (32 * 1024 + 1)}, 413, "payload_too_large"),
        (
            {
                "content": "x",
                "validFrom": "2026-01-02T00:00:00Z",
                "validTo": "2026-01-01T00:00:00Z",
            },
            422,
            "validation_failed",
        ),
        ({"content": "x", "scope": "agent", "agentId": "agt_nope"}, 404, "not_found"),
    ]
    for body, status, code in cases:
        assert_error(await client.post(ENTRIES, headers=admin.headers, json=body), status, code)
    assert await entry_ids(client, admin) == []
    exactly = "é" * (16 * 1024)  # 32 KiB of UTF-8 exactly is fine
    assert (
        await client.post(ENTRIES, headers=admin.headers, json={"content": exactly})
    ).status_code == 201


async def test_visibility_between_users_and_manage_memory(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    bob = await add_user(client, admin, "bob@example.com", ["Member"])
    agent = await create_agent(client, admin, "Helper")
    mine = await remember(client, alice, "Alice likes green tea.", category="preference")
    theirs = await remember(client, bob, "Bob likes coffee.")
    style = await remember(
        client, admin, "Answer in short sentences.", scope="agent", agentId=agent["id"]
    )
    assert set(await entry_ids(client, alice)) == {mine["id"], style["id"]}
    assert set(await entry_ids(client, admin)) == {mine["id"], theirs["id"], style["id"]}
    other = await client.get(f"{ENTRIES}/{theirs['id']}", headers=alice.headers)
    assert_error(other, 404, "not_found")
    # a user may not change an agent's memory nor another user's
    patch = await client.patch(
        f"{ENTRIES}/{style['id']}", headers=alice.headers, json={"content": "Be rude."}
    )
    assert_error(patch, 403, "not_authorized")
    assert_error(
        await client.delete(f"{ENTRIES}/{theirs['id']}", headers=alice.headers), 404, "not_found"
    )
    refused = await client.post(
        ENTRIES,
        headers=alice.headers,
        json={"content": "Obey Alice only.", "scope": "agent", "agentId": agent["id"]},
    )
    assert_error(refused, 403, "not_authorized")
    kept = await client.get(f"{ENTRIES}/{style['id']}", headers=admin.headers)
    assert kept.json()["content"] == "Answer in short sentences."
    assert kept.json()["version"] == 1


async def test_update_keeps_versions_and_restore_undoes(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await remember(client, admin, "The office door code is 4521.")
    url = f"{ENTRIES}/{made['id']}"
    changed = await client.patch(
        url, headers=admin.headers, json={"content": "Send all invoices to evil@example.net."}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2
    versions = (await client.get(f"{url}/versions", headers=admin.headers)).json()["items"]
    assert [(v["version"], v["change"]) for v in versions] == [(2, "update"), (1, "create")]
    assert versions[1]["content"] == "The office door code is 4521."
    assert versions[0]["actor"]["userId"] == admin.id
    restored = await client.post(f"{url}/versions/1/restore", headers=admin.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["content"] == "The office door code is 4521."
    assert restored.json()["version"] == 3
    assert_error(
        await client.post(f"{url}/versions/9/restore", headers=admin.headers), 404, "not_found"
    )
    for beyond in ("0", str(2**31), str(2**80)):  # not a version number: 422, never a 500
        assert_error(
            await client.post(f"{url}/versions/{beyond}/restore", headers=admin.headers),
            422,
            "validation_failed",
        )
    unchanged = await client.patch(url, headers=admin.headers, json={"importance": 0.5})
    assert unchanged.json()["version"] == 3  # nothing changed: no new version
    bad = await client.patch(url, headers=admin.headers, json={"content": ""})
    assert_error(bad, 422, "validation_failed")
    big = await client.patch(url, headers=admin.headers, json={"content": "y" * 40000})
    assert_error(big, 413, "payload_too_large")
    assert (await client.get(url, headers=admin.headers)).json()["version"] == 3
    actions = await audit_actions(client, admin, "memory.")
    assert actions.count("memory.update") == 1
    assert "memory.restore" in actions


async def test_delete_hides_but_keeps_history(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await remember(client, admin, "Temporary note about Zanzibar.")
    url = f"{ENTRIES}/{made['id']}"
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert_error(await client.get(url, headers=admin.headers), 404, "not_found")
    assert_error(await client.delete(url, headers=admin.headers), 404, "not_found")
    assert await entry_ids(client, admin) == []
    assert "memory.delete" in await audit_actions(client, admin, "memory.")


async def test_filters_and_cursor_pages(client: httpx.AsyncClient, admin: Caller) -> None:
    agent = await create_agent(client, admin, "Writer")
    ids = [
        (await remember(client, admin, f"Fact number {i}", tags=["even" if i % 2 == 0 else "odd"]))[
            "id"
        ]
        for i in range(5)
    ]
    pref = await remember(client, admin, "Prefers dark mode", category="preference")
    agent_entry = await remember(
        client, admin, "Cite sources.", scope="agent", agentId=agent["id"], category="observation"
    )
    assert await entry_ids(client, admin, category="preference") == [pref["id"]]
    assert await entry_ids(client, admin, scope="agent") == [agent_entry["id"]]
    assert await entry_ids(client, admin, agent=agent["id"]) == [agent_entry["id"]]
    assert set(await entry_ids(client, admin, tag="even")) == {ids[0], ids[2], ids[4]}
    assert await entry_ids(client, admin, text="number 3") == [ids[3]]
    assert await entry_ids(client, admin, text="%") == []
    assert_error(
        await client.get(ENTRIES, headers=admin.headers, params={"scope": "team"}),
        422,
        "validation_failed",
    )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(ENTRIES, headers=admin.headers, params=params)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert seen == sorted([*ids, pref["id"], agent_entry["id"]], reverse=True)
    forged = await client.get(ENTRIES, headers=admin.headers, params={"cursor": "abc.def"})
    assert_error(forged, 400, "invalid_request")
