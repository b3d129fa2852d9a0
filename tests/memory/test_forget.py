"""Forgetting through an approval: erased everywhere on approval, nothing on rejection."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.agents.agent_helpers import create_agent
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.memory.memory_helpers import ENTRIES, entry_ids, remember, search

SECRET = "Quentin Marlowe's account number is 998877 at Bankwise Ltd."


async def _count(app: FastAPI, sql: str, **params: Any) -> int:
    async with app.state.gateway.db.transaction(readonly=True) as db:
        return int(await db.scalar(text(sql), params) or 0)


async def _audit(client: httpx.AsyncClient, caller: Caller, action: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/admin/audit", headers=caller.headers, params={"action": action, "limit": 200}
    )
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["action"] == action]


async def test_approved_forget_erases_everywhere(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await remember(client, admin, SECRET)
    keep = await remember(client, admin, "Bankwise Ltd has a branch in Oslo.")
    await client.patch(
        f"{ENTRIES}/{made['id']}", headers=admin.headers, json={"content": SECRET + " PIN 1234."}
    )
    asked = await client.post(f"{ENTRIES}/{made['id']}/forget", headers=admin.headers)
    assert asked.status_code == 202, asked.text
    approval_id = asked.json()["approvalId"]
    assert (await client.get(f"{ENTRIES}/{made['id']}", headers=admin.headers)).status_code == 200
    approved = await client.post(f"/api/approvals/{approval_id}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert "998877" not in approved.text
    assert_error(
        await client.get(f"{ENTRIES}/{made['id']}", headers=admin.headers), 404, "not_found"
    )
    assert (await search(client, admin, "Quentin 998877"))["items"] == []
    assert await entry_ids(client, admin) == [keep["id"]]
    assert (
        await _count(
            app, "SELECT count(*) FROM memory_entry_versions WHERE entry_id = :i", i=made["id"]
        )
        == 0
    )
    assert (
        await _count(
            app, "SELECT count(*) FROM memory_entity_links WHERE entry_id = :i", i=made["id"]
        )
        == 0
    )
    assert (
        await _count(
            app, "SELECT count(*) FROM memory_relations WHERE source_entry_id = :i", i=made["id"]
        )
        == 0
    )
    # an entity only the forgotten entry mentioned is gone; a shared one stays
    assert (
        await _count(app, "SELECT count(*) FROM memory_entities WHERE name = 'Quentin Marlowe'")
        == 0
    )
    assert (
        await _count(app, "SELECT count(*) FROM memory_entities WHERE name = 'Bankwise Ltd'") == 1
    )
    assert_error(
        await client.get(
            "/api/memory/graph", headers=admin.headers, params={"entity": "Quentin Marlowe"}
        ),
        404,
        "not_found",
    )
    record = await _audit(client, admin, "memory.forget")
    assert len(record) == 1
    assert record[0]["resource"]["id"] == made["id"]
    assert "998877" not in str(record)
    assert "Quentin" not in str(record)
    pending = await client.get(f"/api/approvals/{approval_id}", headers=admin.headers)
    assert "998877" not in pending.text


async def test_rejected_forget_changes_nothing(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await remember(client, admin, SECRET)
    approval_id = (
        await client.post(f"{ENTRIES}/{made['id']}/forget", headers=admin.headers)
    ).json()["approvalId"]
    rejected = await client.post(
        f"/api/approvals/{approval_id}/reject", headers=admin.headers, json={"reason": "no"}
    )
    assert rejected.status_code == 200, rejected.text
    still = await client.get(f"{ENTRIES}/{made['id']}", headers=admin.headers)
    assert still.json() == made
    assert len((await search(client, admin, "998877"))["items"]) == 1
    assert await _audit(client, admin, "memory.forget") == []


async def test_forget_refusals(client: httpx.AsyncClient, admin: Caller) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    agent = await create_agent(client, admin, "Keeper")
    theirs = await remember(client, admin, "Admin-only note.")
    rule = await remember(client, admin, "Agent rule.", scope="agent", agentId=agent["id"])
    assert_error(
        await client.post(f"{ENTRIES}/{theirs['id']}/forget", headers=alice.headers),
        404,
        "not_found",
    )
    assert_error(
        await client.post(f"{ENTRIES}/{rule['id']}/forget", headers=alice.headers),
        403,
        "not_authorized",
    )
    assert_error(
        await client.post(f"{ENTRIES}/mem_nope/forget", headers=admin.headers), 404, "not_found"
    )
    assert_error(
        await client.post(f"/api/memory/agents/{agent['id']}/forget-all", headers=alice.headers),
        403,
        "not_authorized",
    )
    pending = await client.get("/api/approvals", headers=admin.headers)
    assert pending.json()["items"] == []


async def test_forget_all_of_an_agent(client: httpx.AsyncClient, admin: Caller) -> None:
    agent = await create_agent(client, admin, "Chatty")
    other = await create_agent(client, admin, "Quiet")
    for i in range(3):
        await remember(client, admin, f"Chatty rule {i}", scope="agent", agentId=agent["id"])
    kept = await remember(client, admin, "Quiet rule", scope="agent", agentId=other["id"])
    mine = await remember(client, admin, "My own fact")
    asked = await client.post(f"/api/memory/agents/{agent['id']}/forget-all", headers=admin.headers)
    assert asked.status_code == 202, asked.text
    approval = await client.get(
        f"/api/approvals/{asked.json()['approvalId']}", headers=admin.headers
    )
    assert approval.json()["riskLevel"] == "Critical"
    assert len(await entry_ids(client, admin)) == 5
    await client.post(f"/api/approvals/{asked.json()['approvalId']}/approve", headers=admin.headers)
    assert set(await entry_ids(client, admin)) == {kept["id"], mine["id"]}
    (record,) = await _audit(client, admin, "memory.forget_all")
    assert record["details"]["count"] == 3
