"""Cancelling tasks at each stage, and the operator's pause, resume and drain."""

from __future__ import annotations

import httpx

from tests.agents.agent_helpers import create_agent
from tests.chat.chat_helpers import EventLog, messages, pending_approval, send, wait_task
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.runtime.test_tool_calls import PRINT_CODE


async def _ops(client: httpx.AsyncClient, caller: Caller, action: str) -> httpx.Response:
    return await client.post(f"/api/ops/{action}", headers=caller.headers)


async def test_a_queued_task_is_cancelled_at_once_and_pause_holds_new_work(
    client: httpx.AsyncClient, admin: Caller, events: EventLog
) -> None:
    paused = await _ops(client, admin, "pause")
    assert paused.json() == {"processing": "paused"}
    accepted = await send(client, admin, "wait for me")
    queued = (await client.get(f"/api/tasks/{accepted['taskId']}", headers=admin.headers)).json()
    assert queued["status"] == "Queued"
    active = (await client.get("/api/tasks/active", headers=admin.headers)).json()["items"]
    assert [t["id"] for t in active] == [accepted["taskId"]]
    cancelled = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "Cancelled"
    await events.named("TaskCancelled", accepted["taskId"])
    again = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert_error(again, 409, "conflict")

    second = await send(client, admin, "after resume", sessionId=accepted["sessionId"])
    assert (await _ops(client, admin, "resume")).json() == {"processing": "running"}
    assert (await wait_task(client, admin, second["taskId"]))["status"] == "Completed"
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["content"] for m in history][:2] == ["wait for me", "after resume"]
    audit = await client.get("/api/admin/audit", headers=admin.headers, params={"action": "ops."})
    assert [e["action"] for e in audit.json()["items"]] == ["ops.running", "ops.paused"]


async def test_cancel_while_waiting_for_approval_withdraws_it(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    cancelled = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Cancelled"
    withdrawn = (await client.get(f"/api/approvals/{approval['id']}", headers=admin.headers)).json()
    assert withdrawn["status"] == "Expired"
    assert withdrawn["reason"] == "The task was cancelled."
    history = await messages(client, admin, accepted["sessionId"])
    assert history[1]["toolCalls"][0]["status"] == "skipped"
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]


async def test_cancelling_another_users_task_needs_cancel_tasks(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    await pending_approval(client, admin, events, accepted["taskId"])
    viewer = await add_user(client, admin, "viewer@example.com", roles=["Viewer"])
    seen = await client.get(f"/api/tasks/{accepted['taskId']}", headers=viewer.headers)
    assert seen.json()["status"] == "Running"  # ViewActiveTasks shows the tenant's tasks
    refused = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=viewer.headers)
    assert_error(refused, 403, "not_authorized")
    operator = await add_user(client, admin, "op@example.com", roles=["Operator"])
    allowed = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=operator.headers)
    assert allowed.status_code == 200
    assert (await wait_task(client, admin, accepted["taskId"]))["status"] == "Cancelled"


async def test_deleting_a_session_cancels_its_running_task(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    await pending_approval(client, admin, events, accepted["taskId"])
    deleted = await client.delete(f"/api/sessions/{accepted['sessionId']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await wait_task(client, admin, accepted["taskId"]))["status"] == "Cancelled"


async def test_deleting_an_agent_cancels_its_tasks_and_keeps_its_sessions_readable(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await create_agent(client, admin, "helper")
    done = await send(client, admin, "hello", agentId=agent["id"])
    await wait_task(client, admin, done["taskId"])
    await _ops(client, admin, "pause")
    queued = await send(client, admin, "later", sessionId=done["sessionId"])
    assert (
        await client.delete(f"/api/agents/{agent['id']}", headers=admin.headers)
    ).status_code == 204
    task = (await client.get(f"/api/tasks/{queued['taskId']}", headers=admin.headers)).json()
    assert task["status"] == "Cancelled"
    session = await client.get(f"/api/sessions/{done['sessionId']}", headers=admin.headers)
    assert session.json()["agentDeleted"] is True
    assert len(await messages(client, admin, done["sessionId"])) == 3
    refused = await client.post(
        "/api/chat", headers=admin.headers, json={"content": "more", "sessionId": done["sessionId"]}
    )
    assert_error(refused, 404, "not_found")


async def test_drain_refuses_new_work_then_pauses_once_idle(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    assert (await _ops(client, admin, "drain")).json() == {"processing": "draining"}
    refused = await client.post("/api/chat", headers=admin.headers, json={"content": "more"})
    assert_error(refused, 503, "service_unavailable")
    assert refused.headers["Retry-After"] == "30"
    await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert (await wait_task(client, admin, accepted["taskId"]))["status"] == "Completed"
    await events.wait_for(
        lambda e: e.name == "ProcessingChanged" and e.payload["processing"] == "paused"
    )
    health = (await client.get("/api/ops/health", headers=admin.headers)).json()
    assert health["processing"] == "paused"
    assert health["workers"]["running"] == 0


async def test_ops_reports_and_permissions(client: httpx.AsyncClient, admin: Caller) -> None:
    health = (await client.get("/api/ops/health", headers=admin.headers)).json()
    assert health["status"] == "healthy"
    assert health["database"]["status"] == "ok"
    assert health["queue"]["depth"] == 0
    assert health["workers"]["concurrency"] == 8
    system = (await client.get("/api/ops/system", headers=admin.headers)).json()
    assert system["memory"]["rssBytes"] > 0
    assert system["openFiles"] > 0
    assert system["disk"]["freeBytes"] > 0
    viewer = await add_user(client, admin, "viewer@example.com", roles=["Viewer"])
    assert (await client.get("/api/ops/health", headers=viewer.headers)).status_code == 200
    assert_error(await _ops(client, viewer, "pause"), 403, "not_authorized")
