"""The memory tools as the agent runtime calls them (through `run_tool` and a ToolContext)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from sophon.gateway import Gateway
from sophon.tools.invoke import ToolContext, ToolResult, run_tool
from tests.agents.agent_helpers import create_agent
from tests.identity_helpers import Caller, add_user
from tests.memory.memory_helpers import ENTRIES, entry_ids, remember


async def _context(app: FastAPI, caller: Caller, agent_id: str) -> ToolContext:
    gateway: Gateway = app.state.gateway
    async with gateway.db.transaction(readonly=True) as db:
        tenant = await db.scalar(text("SELECT id FROM tenants WHERE slug = 'default'"))
    return ToolContext(
        settings=gateway.settings,
        principal_id=caller.id,
        tenant_id=str(tenant),
        agent_id=agent_id,
        session_id="sess_test",
        database=gateway.db,
    )


async def call(app: FastAPI, context: ToolContext, name: str, **arguments: Any) -> ToolResult:
    tool = app.state.gateway.tools.get(name)
    assert tool is not None, name
    return await run_tool(tool, context, arguments)


async def test_catalog_lists_the_memory_tools_with_their_risks(client: httpx.AsyncClient) -> None:
    tools = {t["name"]: t["riskLevel"] for t in (await client.get("/api/tools")).json()["items"]}
    assert {k: v for k, v in tools.items() if k.startswith("memory.")} == {
        "memory.search": "None",
        "memory.read": "None",
        "memory.traverse": "None",
        "memory.write": "Medium",
        "memory.forget": "High",
        "memory.forget_all": "Critical",
    }


async def test_write_search_read_traverse_forget(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await create_agent(client, admin, "Aide")
    ctx = await _context(app, admin, agent["id"])
    wrote = await call(
        app,
        ctx,
        "memory.write",
        content="Nora Quinn works at Vandelay Industries.",
        category="fact",
        tags=["work"],
        importance=0.7,
    )
    assert not wrote.is_error, wrote.content
    entry_id = str(wrote.data["id"])  # type: ignore[index]
    made = (await client.get(f"{ENTRIES}/{entry_id}", headers=admin.headers)).json()
    assert made["scope"] == "user"
    assert made["userId"] == admin.id
    assert made["source"] == {"type": "chat", "sessionId": "sess_test", "messageId": None}
    found = await call(app, ctx, "memory.search", query="where does Nora work")
    assert entry_id in found.content
    assert not found.is_error
    read = await call(app, ctx, "memory.read", id=entry_id)
    assert "Vandelay" in read.content
    touched = (await client.get(f"{ENTRIES}/{entry_id}", headers=admin.headers)).json()
    assert touched["lastAccessedAt"] is not None
    walked = await call(app, ctx, "memory.traverse", entity="Nora Quinn")
    assert "works_at" in walked.content
    assert "Vandelay Industries" in walked.content
    bad = await call(app, ctx, "memory.traverse", entity="Nora Quinn", depth=4)
    assert bad.is_error
    invalid = await call(app, ctx, "memory.write", content="")
    assert invalid.is_error
    forgot = await call(app, ctx, "memory.forget", id=entry_id)
    assert not forgot.is_error, forgot.content
    assert await entry_ids(client, admin) == []
    missing = await call(app, ctx, "memory.read", id=entry_id)
    assert missing.is_error


async def test_agent_scope_is_per_agent_and_forget_all_takes_only_its_own(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    first = await create_agent(client, admin, "First")
    second = await create_agent(client, admin, "Second")
    one = await _context(app, alice, first["id"])
    two = await _context(app, alice, second["id"])
    mine = await call(app, one, "memory.write", content="Use British spelling.", scope="agent")
    assert not mine.is_error, mine.content
    other = await call(app, two, "memory.write", content="Use emoji sparingly.", scope="agent")
    user_fact = await call(app, two, "memory.write", content="Alice's cat is Biscuit.")
    assert "British" not in (await call(app, two, "memory.search", query="spelling")).content
    assert (await call(app, two, "memory.read", id=str(mine.data["id"]))).is_error  # type: ignore[index]
    admin_note = await remember(client, admin, "Admin spelling preference: American.")
    assert admin_note["id"] not in (await call(app, one, "memory.search", query="spelling")).content
    gone = await call(app, one, "memory.forget_all")
    assert gone.data == {"count": 1}
    left = set(await entry_ids(client, admin))
    assert left == {str(other.data["id"]), str(user_fact.data["id"]), admin_note["id"]}  # type: ignore[index]
    # an agent cannot forget what it may not change
    refused = await call(app, one, "memory.forget", id=admin_note["id"])
    assert refused.is_error
