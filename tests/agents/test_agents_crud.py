"""Agents CRUD: fields, defaults, each refusal with its status and code, soft delete."""

from __future__ import annotations

from typing import Any

import httpx

from tests.agents.agent_helpers import (
    AGENTS,
    audit_actions,
    create_agent,
    default_agent,
    list_agents,
)
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user

FULL: dict[str, Any] = {
    "name": "Researcher",
    "description": "Digs through sources.",
    "model": "openai-main/gpt-4o-mini",
    "temperature": 0.2,
    "maxTokens": 2000,
    "planningMode": "Always",
    "heartbeat": {
        "enabled": True,
        "intervalMinutes": 15,
        "activeHours": {"start": "08:00", "end": "22:00", "timezone": "Europe/Paris"},
    },
    "budget": {"dailyTokens": 50000},
}


async def test_create_get_list_and_defaults(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await create_agent(client, admin, **FULL)
    assert made["id"].startswith("agt_")
    assert {k: made[k] for k in FULL} == FULL
    assert made["ownerId"] == admin.id
    assert made["tools"] == []
    assert made["isDefault"] is False
    assert made["createdAt"].endswith("Z")
    assert made["updatedAt"].endswith("Z")
    fetched = await client.get(f"{AGENTS}/{made['id']}", headers=admin.headers)
    assert fetched.json() == made
    bare = await create_agent(client, admin, "Plain")
    assert bare["model"] == ""
    assert bare["temperature"] == 0.7
    assert bare["maxTokens"] == 4096
    assert bare["planningMode"] == "Auto"
    assert bare["heartbeat"] == {"enabled": False, "intervalMinutes": 30, "activeHours": None}
    assert bare["budget"] == {"dailyTokens": None}
    names = [a["name"] for a in await list_agents(client, admin)]
    assert names == ["Plain", "Researcher", "default"]  # newest first


async def test_list_pages_with_a_cursor(client: httpx.AsyncClient, admin: Caller) -> None:
    for i in range(3):
        await create_agent(client, admin, f"a{i}")
    first = (await client.get(AGENTS, headers=admin.headers, params={"limit": 2})).json()
    assert first["hasMore"] is True
    second = (
        await client.get(
            AGENTS, headers=admin.headers, params={"limit": 2, "cursor": first["nextCursor"]}
        )
    ).json()
    assert second["hasMore"] is False
    names = [a["name"] for a in first["items"] + second["items"]]
    assert names == ["a2", "a1", "a0", "default"]


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await create_agent(client, admin, **FULL)
    response = await client.patch(
        f"{AGENTS}/{made['id']}",
        headers=admin.headers,
        json={"temperature": 1.5, "model": "", "heartbeat": {"enabled": False}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["temperature"] == 1.5
    assert body["model"] == ""
    assert body["heartbeat"] == {"enabled": False, "intervalMinutes": 30, "activeHours": None}
    assert body["name"] == "Researcher"
    assert body["maxTokens"] == 2000
    assert await audit_actions(client, admin, "agent.") == ["agent.update", "agent.create"]


async def test_signed_out_is_401(client: httpx.AsyncClient, admin: Caller) -> None:
    assert_error(await client.get(AGENTS), 401, "unauthenticated")
    assert_error(await client.post(AGENTS, json={"name": "x"}), 401, "unauthenticated")


async def test_a_viewer_reads_but_cannot_change(client: httpx.AsyncClient, admin: Caller) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    agent = await default_agent(client, admin)
    url = f"{AGENTS}/{agent['id']}"
    assert (await client.get(AGENTS, headers=viewer.headers)).status_code == 200
    assert (await client.get(url, headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{url}/soul", headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{url}/tools", headers=viewer.headers)).status_code == 200
    refusals = [
        client.post(AGENTS, headers=viewer.headers, json={"name": "mine"}),
        client.patch(url, headers=viewer.headers, json={"description": "x"}),
        client.delete(url, headers=viewer.headers),
        client.put(f"{url}/soul", headers=viewer.headers, json={"content": "evil"}),
        client.put(f"{url}/tools", headers=viewer.headers, json={"tools": []}),
        client.post(f"{url}/files/soul/versions/1/restore", headers=viewer.headers),
    ]
    for call in refusals:
        error = assert_error(await call, 403, "not_authorized")
        assert error["details"] == {"permission": "ManageAgents"}
    assert [a["name"] for a in await list_agents(client, admin)] == ["default"]
    soul = (await client.get(f"{url}/soul", headers=admin.headers)).json()
    assert soul["version"] == 1


async def test_missing_agent_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    url = f"{AGENTS}/agt_01J00000000000000000000000"
    for method in ("GET", "DELETE"):
        assert_error(await client.request(method, url, headers=admin.headers), 404, "not_found")
    patch = await client.patch(url, headers=admin.headers, json={"description": "x"})
    assert_error(patch, 404, "not_found")
    assert_error(await client.get(f"{url}/soul", headers=admin.headers), 404, "not_found")


async def test_duplicate_name_is_409_case_insensitively(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await create_agent(client, admin, "Writer")
    for name in ("Writer", "writer", " WRITER "):
        response = await client.post(AGENTS, headers=admin.headers, json={"name": name})
        assert_error(response, 409, "conflict")
    other = await create_agent(client, admin, "Editor")
    rename = await client.patch(
        f"{AGENTS}/{other['id']}", headers=admin.headers, json={"name": "writer"}
    )
    assert_error(rename, 409, "conflict")
    assert sorted(a["name"] for a in await list_agents(client, admin)) == [
        "Editor",
        "Writer",
        "default",
    ]


BAD_FIELDS: list[dict[str, Any]] = [
    {},
    {"name": ""},
    {"name": "x" * 101},
    {"name": "ok", "temperature": 2.5},
    {"name": "ok", "temperature": -0.1},
    {"name": "ok", "maxTokens": 0},
    {"name": "ok", "planningMode": "Sometimes"},
    {"name": "ok", "model": "no-slash"},
    {"name": "ok", "model": "provider/has space"},
    {"name": "ok", "heartbeat": {"intervalMinutes": 0}},
    {"name": "ok", "heartbeat": {"intervalMinutes": 1441}},
    {"name": "ok", "heartbeat": {"activeHours": {"start": "8am", "end": "22:00"}}},
    {"name": "ok", "heartbeat": {"activeHours": {"start": "08:00", "end": "24:00"}}},
    {
        "name": "ok",
        "heartbeat": {"activeHours": {"start": "08:00", "end": "22:00", "timezone": "Mars/Base"}},
    },
    {"name": "ok", "budget": {"dailyTokens": 0}},
    {"name": "ok", "unknownField": 1},
    {"name": "ok", "budget": {"dailyTokens": 2**31}},  # was a 500: past the stored integer
    {"name": "ok", "budget": {"dailyTokens": 2**63}},
]


async def test_bad_fields_are_422_and_write_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    for body in BAD_FIELDS:
        response = await client.post(AGENTS, headers=admin.headers, json=body)
        assert_error(response, 422, "validation_failed")
        if body:
            patch = await client.patch(f"{AGENTS}/{agent['id']}", headers=admin.headers, json=body)
            assert_error(patch, 422, "validation_failed")
    assert [a["name"] for a in await list_agents(client, admin)] == ["default"]
    assert await default_agent(client, admin) == agent
    assert await audit_actions(client, admin, "agent.") == []


async def test_delete_is_soft_and_frees_the_name(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await create_agent(client, admin, "Temp")
    url = f"{AGENTS}/{made['id']}"
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert_error(await client.get(url, headers=admin.headers), 404, "not_found")
    assert_error(
        await client.patch(url, headers=admin.headers, json={"description": "x"}), 404, "not_found"
    )
    assert_error(await client.delete(url, headers=admin.headers), 404, "not_found")
    again = await create_agent(client, admin, "temp")
    assert again["id"] != made["id"]
    assert [a["name"] for a in await list_agents(client, admin)] == ["temp", "default"]
    assert await audit_actions(client, admin, "agent.") == [
        "agent.create",
        "agent.delete",
        "agent.create",
    ]


async def test_the_default_agent_cannot_be_deleted_or_renamed(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    url = f"{AGENTS}/{agent['id']}"
    assert_error(await client.delete(url, headers=admin.headers), 409, "conflict")
    rename = await client.patch(url, headers=admin.headers, json={"name": "other"})
    assert_error(rename, 409, "conflict")
    assert (await default_agent(client, admin))["name"] == "default"


async def test_a_deleted_users_agents_stay_with_no_owner(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    builder = await add_user(client, admin, "builder@example.com", ["Admin"])
    made = await create_agent(client, builder, "Scout")
    assert made["ownerId"] == builder.id
    removed = await client.delete(f"/api/admin/users/{builder.id}", headers=admin.headers)
    assert removed.status_code == 204
    kept = (await client.get(f"{AGENTS}/{made['id']}", headers=admin.headers)).json()
    assert kept["name"] == "Scout"
    assert kept["ownerId"] is None
