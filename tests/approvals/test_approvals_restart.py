"""Approvals across a restart of the agent runtime (what a Gateway restart does to the turns in
flight: they go back to the queue and the next runtime resumes them): a pending approval is
waited on again, a decision made meanwhile is used, and no approval is left approvable to no
effect. Real processes killed mid-turn: tests/e2e/test_crash_recovery.py."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from sophon.gateway import Gateway
from sophon.platform.events import Event
from sophon.runtime.engine import AgentRuntime
from sophon.tasks.models import Task
from tests.chat.chat_helpers import EventLog, messages, pending_approval, send, wait_task
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    FakeServer,
)
from tests.turn_fixtures import PlannedNote

PRINT_CODE = '/tool code.execute {"code": "print(6 * 7)"}'
CHAT = "/v1/chat/completions"


async def stop_runtime(app: FastAPI) -> None:
    """The runtime stops as at shutdown: its turns are handed back to the queue."""
    runtime: AgentRuntime | None = app.state.runtime
    assert runtime is not None
    await runtime.stop()


async def start_runtime(app: FastAPI) -> None:
    app.state.runtime = runtime = AgentRuntime(app.state.gateway)
    await runtime.start()


def waiting_again(task_id: str, events: EventLog) -> Any:
    """True once the task waits for an approval a second time (the resumed turn)."""

    def accept(_: Event) -> bool:
        waits = [
            e
            for e in events.of_task(task_id)
            if e.name == "AgentStatus" and e.payload["status"] == "waiting_approval"
        ]
        return len(waits) >= 2

    return accept


async def approvals_of(client: httpx.AsyncClient, admin: Caller) -> list[dict[str, Any]]:
    pending = (await client.get("/api/approvals", headers=admin.headers)).json()["items"]
    decided = (await client.get("/api/approvals/history", headers=admin.headers)).json()["items"]
    return [*pending, *decided]


async def test_a_pending_approval_survives_a_restart_and_the_resumed_turn_waits_on_it(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    app: FastAPI,
    gateway: Gateway,
    events: EventLog,
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    await stop_runtime(app)
    await start_runtime(app)
    await events.wait_for(waiting_again(accepted["taskId"], events))

    assert [(a["id"], a["status"]) for a in await approvals_of(client, admin)] == [
        (approval["id"], "Pending")
    ]
    approved = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", task
    assert any(e["message"] == "resumed after a Gateway restart" for e in task["log"])
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    (call,) = history[1]["toolCalls"]
    assert (call["status"], call["approvalId"]) == ("completed", approval["id"])
    assert "stdout:\n42\n" in history[2]["content"]
    assert [e.name for e in events.of_task(accepted["taskId"])].count("ApprovalRequested") == 1


async def test_a_decision_made_while_no_runtime_ran_is_what_the_resumed_turn_uses(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    app: FastAPI,
    gateway: Gateway,
    events: EventLog,
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    await stop_runtime(app)
    approved = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    await start_runtime(app)

    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", task
    assert [(c["status"], c["approvalId"]) for c in task["toolCalls"]] == [
        ("completed", approval["id"])
    ]
    history = await messages(client, admin, accepted["sessionId"])
    assert "stdout:\n42\n" in history[2]["content"]


async def test_a_task_cancelled_while_no_runtime_ran_closes_its_approval(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    app: FastAPI,
    gateway: Gateway,
    events: EventLog,
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    await stop_runtime(app)
    cancel = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert cancel.status_code == 200, cancel.text
    await start_runtime(app)

    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Cancelled", task
    closed = (await client.get(f"/api/approvals/{approval['id']}", headers=admin.headers)).json()
    assert (closed["status"], closed["reason"]) == (
        "Expired",
        "The task ended before this was decided.",
    )
    late = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert_error(late, 409, "conflict")
    assert (await client.get("/api/approvals", headers=admin.headers)).json()["items"] == []


async def test_an_approval_orphaned_by_an_ended_task_is_closed_instead_of_approved(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    app: FastAPI,
    gateway: Gateway,
    events: EventLog,
) -> None:
    """An approval whose task ended without closing it (as earlier versions left them after a
    restart): deciding it answers 409 and closes it, nothing runs."""
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    await stop_runtime(app)
    async with gateway.db.transaction(tenant_id=approval_tenant(events)) as db:
        await db.execute(
            update(Task).where(Task.id == accepted["taskId"]).values(status="Completed")
        )

    late = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    error = assert_error(late, 409, "conflict")
    assert error["details"] == {"status": "Expired", "taskId": accepted["taskId"]}
    closed = (await client.get(f"/api/approvals/{approval['id']}", headers=admin.headers)).json()
    assert (closed["status"], closed["approvedArguments"], closed["decidedBy"]) == (
        "Expired",
        None,
        None,
    )
    assert closed["reason"] == "The task ended before this was decided."
    audit = await client.get(
        "/api/admin/audit", headers=admin.headers, params={"action": "approval."}
    )
    assert [e["action"] for e in audit.json()["items"]] == ["approval.withdrawn"]
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant"]  # nothing ran


async def test_a_refused_call_caught_by_a_restart_says_it_never_ran(
    client: httpx.AsyncClient,
    admin: Caller,
    agent_id: str,
    app: FastAPI,
    gateway: Gateway,
    events: EventLog,
) -> None:
    """The restart comes while the approved call of a batch runs: that one "may or may not have
    taken effect", the rejected one did not run, and the model is told so."""
    slow = '/tool code.execute {"code": "import time; time.sleep(60)"}'
    accepted = await send(client, admin, f"{slow}\n{PRINT_CODE}")
    first = await pending_approval(client, admin, events, accepted["taskId"])
    requested = await events.wait_for(
        lambda e: e.name == "ApprovalRequested" and e.payload["id"] != first["id"]
    )
    second = requested.payload
    for approval, verdict in ((first, "approve"), (second, "reject")):
        url = f"/api/approvals/{approval['id']}/{verdict}"
        body = {"reason": "not this one"} if verdict == "reject" else None
        decided = await client.post(url, headers=admin.headers, json=body)
        assert decided.status_code == 200, decided.text
    await events.named("ToolCallStarted", accepted["taskId"])
    await stop_runtime(app)
    await start_runtime(app)

    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", task
    by_approval = {c["approvalId"]: c for c in task["toolCalls"]}
    assert by_approval[first["id"]]["status"] == "interrupted"
    assert by_approval[second["id"]]["status"] == "rejected"
    history = await messages(client, admin, accepted["sessionId"])
    results = {m["toolCallId"]: m["content"] for m in history if m["role"] == "tool"}
    assert results[by_approval[first["id"]]["id"]].startswith("Interrupted: the Gateway restarted")
    assert results[by_approval[second["id"]]["id"]] == "The user rejected this call: not this one"


async def test_a_plan_waiting_for_its_approval_is_not_planned_again_after_a_restart(
    client: httpx.AsyncClient,
    admin: Caller,
    app: FastAPI,
    model: FakeServer,
    events: EventLog,
    planned_note: PlannedNote,
) -> None:
    accepted, approval = planned_note.accepted, planned_note.approval
    await stop_runtime(app)
    await start_runtime(app)
    await events.wait_for(waiting_again(accepted["taskId"], events))

    approved = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", task
    assert (task["plan"]["goal"], task["plan"]["approved"]) == ("Take a note", True)
    assert [a["id"] for a in await approvals_of(client, admin)] == [approval["id"]]
    assert len(model.received(CHAT)) == 3  # the plan was asked for once
    history = await messages(client, admin, accepted["sessionId"])
    assert history[2]["content"] == "noted milk"


def approval_tenant(events: EventLog) -> str:
    requested = next(e for e in events.seen if e.name == "ApprovalRequested")
    assert requested.tenant_id is not None
    return requested.tenant_id
