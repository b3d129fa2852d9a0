"""Heartbeats on a deterministic clock (short intervals, so sign-ins stay fresh): due runs,
HEARTBEAT_OK as a quiet no-op, alerts, an empty checklist recorded as skipped, missed ticks run
once, and the risk ceiling."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from sophon.runtime.engine import AgentRuntime
from tests.agents.agent_helpers import create_agent
from tests.chat.chat_helpers import EventLog, messages, wait_task
from tests.conftest import FakeClock
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    FakeServer,
    JsonReply,
    openai_completion,
    openai_tool_call,
)

CHAT = "/v1/chat/completions"


async def _agent(client: httpx.AsyncClient, admin: Caller, checklist: str) -> dict[str, Any]:
    agent = await create_agent(
        client, admin, "watcher", heartbeat={"enabled": True, "intervalMinutes": 5}
    )
    written = await client.put(
        f"/api/agents/{agent['id']}/heartbeat", headers=admin.headers, json={"content": checklist}
    )
    assert written.status_code == 200, written.text
    return agent


async def _runs(client: httpx.AsyncClient, admin: Caller, agent_id: str) -> list[dict[str, Any]]:
    """The agent's tasks, each once (one finishing between the two reads is in both lists)."""
    listed: dict[str, dict[str, Any]] = {}
    for path in ("/api/tasks/active", "/api/tasks/history"):
        response = await client.get(path, headers=admin.headers, params={"limit": 200})
        listed |= {t["id"]: t for t in response.json()["items"] if t["agentId"] == agent_id}
    return list(listed.values())


async def _tick(app: FastAPI) -> None:
    runtime: AgentRuntime | None = app.state.runtime
    assert runtime is not None
    await runtime.tick()


async def test_a_due_heartbeat_runs_and_alerts_its_owner(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock, events: EventLog
) -> None:
    agent = await _agent(client, admin, "- Look at the inbox")
    await _tick(app)
    assert await _runs(client, admin, agent["id"]) == []
    clock.advance(minutes=5)
    await _tick(app)
    (run,) = await _runs(client, admin, agent["id"])
    task = await wait_task(client, admin, run["id"])
    assert task["kind"] == "heartbeat"
    assert task["status"] == "Completed"
    alert = await events.wait_for(lambda e: e.name == "Notification")
    assert alert.payload["kind"] == "heartbeat"
    assert alert.payload["agentId"] == agent["id"]
    assert alert.audience.user_ids == frozenset({admin.id})
    session = await client.get(f"/api/sessions/{task['sessionId']}", headers=admin.headers)
    assert session.json()["kind"] == "heartbeat"
    assert session.json()["archived"] is False


async def test_heartbeat_ok_is_a_quiet_no_op(
    client: httpx.AsyncClient,
    admin: Caller,
    app: FastAPI,
    clock: FakeClock,
    events: EventLog,
    model: FakeServer,
) -> None:
    model.script("POST", CHAT, JsonReply(openai_completion("HEARTBEAT_OK")))
    agent = await _agent(client, admin, "- Anything urgent?")
    clock.advance(minutes=6)
    await _tick(app)
    (run,) = await _runs(client, admin, agent["id"])
    task = await wait_task(client, admin, run["id"])
    assert task["status"] == "Completed"
    session = (await client.get(f"/api/sessions/{task['sessionId']}", headers=admin.headers)).json()
    assert session["archived"] is True
    assert not [e for e in events.seen if e.name == "Notification"]
    request = model.received(CHAT)[0].json()
    assert "- Anything urgent?" in request["messages"][0]["content"]


async def test_an_empty_checklist_is_recorded_as_skipped(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock
) -> None:
    agent = await _agent(client, admin, "   ")
    clock.advance(minutes=5)
    await _tick(app)
    (run,) = await _runs(client, admin, agent["id"])
    task = await wait_task(client, admin, run["id"])
    assert task["status"] == "Cancelled"
    assert task["errorCode"] == "skipped"


async def test_missed_ticks_after_downtime_run_once(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI, clock: FakeClock
) -> None:
    agent = await _agent(client, admin, "- Check")
    clock.advance(minutes=25)  # five intervals, the sign-in still fresh
    await _tick(app)
    await _tick(app)
    runs = await _runs(client, admin, agent["id"])
    assert len(runs) == 1
    await wait_task(client, admin, runs[0]["id"])
    clock.advance(minutes=5)
    await _tick(app)
    assert len(await _runs(client, admin, agent["id"])) == 2


async def test_heartbeat_runs_refuse_tools_above_the_risk_ceiling(
    client: httpx.AsyncClient,
    admin: Caller,
    app: FastAPI,
    clock: FakeClock,
    model: FakeServer,
) -> None:
    agent = await _agent(client, admin, "- Clean up")
    await client.put(
        f"/api/agents/{agent['id']}/tools", headers=admin.headers, json={"tools": ["code.*"]}
    )
    call = openai_tool_call("call_1", "code__execute", '{"code": "print(1)"}')
    model.script(
        "POST",
        CHAT,
        JsonReply(openai_completion(None, [call], finish_reason="tool_calls")),
        JsonReply(openai_completion("Could not run it.")),
    )
    clock.advance(minutes=5)
    await _tick(app)
    (run,) = await _runs(client, admin, agent["id"])
    task = await wait_task(client, admin, run["id"])
    assert task["toolCalls"][0]["status"] == "rejected"
    history = await messages(client, admin, task["sessionId"])
    assert "Heartbeat runs may not use code.execute (High risk" in history[2]["content"]
    pending = await client.get("/api/approvals", headers=admin.headers)
    assert pending.json()["items"] == []
