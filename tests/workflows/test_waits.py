"""Runs that wait without holding a worker: the durable timer, the approval gate, a High-risk
tool's approval, the activation approval of a risky workflow, cancelling a waiting run."""

from __future__ import annotations

import asyncio

import httpx

from tests.chat.chat_helpers import EventLog, pending_approval
from tests.conftest import FakeClock
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.workflows.wf_helpers import by_node, chain, create, transform, trigger, wait_run

WAITING = ("Waiting",)


async def test_a_wait_is_a_durable_timer(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock, events: EventLog
) -> None:
    workflow = await create(
        client,
        admin,
        chain(
            {"id": "w", "type": "logic.wait", "config": {"seconds": 600}},
            transform("after", "done"),
        ),
    )
    started = await trigger(client, admin, workflow["id"])
    run = await wait_run(client, admin, workflow["id"], started["runId"], WAITING)
    assert by_node(run)["w"]["status"] == "Waiting"
    await events.wait_for(lambda e: e.name == "WorkflowRunWaiting")
    await asyncio.sleep(1.2)  # workers poll: nothing moves before the time
    run = await wait_run(client, admin, workflow["id"], started["runId"], WAITING)
    assert "after" not in by_node(run)
    clock.advance(seconds=601)
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Completed"
    assert by_node(run)["after"]["output"] == "done"


async def test_an_approval_gate_waits_then_follows_the_decision(
    client: httpx.AsyncClient, admin: Caller, events: EventLog
) -> None:
    gate = {
        "id": "gate",
        "type": "approval.gate",
        "config": {"message": "Pay {{ $input.amount }}?", "onReject": "route"},
    }
    workflow = await create(
        client,
        admin,
        chain(
            gate,
            transform("pay", "paid"),
            transform("refused", "no"),
            edges=[
                {"from": "gate", "to": "pay", "when": "approved"},
                {"from": "gate", "to": "refused", "when": "rejected"},
            ],
        ),
    )
    for decision, taken, skipped in (("approve", "pay", "refused"), ("reject", "refused", "pay")):
        started = await trigger(client, admin, workflow["id"], {"amount": 12})
        approval = await pending_approval(client, admin, events, started["taskId"])
        assert approval["preview"] == "Pay 12?"
        run = await wait_run(client, admin, workflow["id"], started["runId"], WAITING)
        task = (await client.get(f"/api/tasks/{started['taskId']}", headers=admin.headers)).json()
        assert task["status"] == "Running"
        response = await client.post(
            f"/api/approvals/{approval['id']}/{decision}", headers=admin.headers
        )
        assert response.status_code == 200, response.text
        run = await wait_run(client, admin, workflow["id"], started["runId"])
        nodes = by_node(run)
        assert run["status"] == "Completed"
        assert nodes[taken]["status"] == "Completed"
        assert nodes[skipped]["status"] == "Skipped"
        assert nodes["gate"]["output"]["approved"] is (decision == "approve")


async def test_a_risky_workflow_is_enabled_only_once_approved(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = chain(
        {"id": "code", "type": "action.execute_code", "config": {"code": "print(6 * 7)"}},
        enabled=True,
    )
    workflow = await create(client, admin, definition)
    assert workflow["enabled"] is False
    assert workflow["approval"] == "Pending"
    response = await client.post(f"/api/workflows/{workflow['id']}/trigger", headers=admin.headers)
    assert_error(response, 409, "conflict")
    runs = await client.get(f"/api/workflows/{workflow['id']}/runs", headers=admin.headers)
    assert runs.json()["items"] == []
    approved = await client.post(
        f"/api/approvals/{workflow['approvalId']}/approve", headers=admin.headers
    )
    assert approved.status_code == 200, approved.text
    now = (await client.get(f"/api/workflows/{workflow['id']}", headers=admin.headers)).json()
    assert now["enabled"] is True
    assert now["approval"] == "Approved"
    # changing the risky node asks again; renaming does not
    renamed = await client.patch(
        f"/api/workflows/{workflow['id']}", headers=admin.headers, json={"name": "renamed"}
    )
    assert renamed.json()["approval"] == "Approved"
    assert renamed.json()["version"] == 2
    changed = await client.patch(
        f"/api/workflows/{workflow['id']}",
        headers=admin.headers,
        json={
            "nodes": [{"id": "code", "type": "action.execute_code", "config": {"code": "print(1)"}}]
        },
    )
    assert changed.json()["approval"] == "Pending"
    assert changed.json()["enabled"] is False


async def test_a_high_risk_tool_waits_for_its_own_approval(
    client: httpx.AsyncClient, admin: Caller, events: EventLog
) -> None:
    node = {
        "id": "sh",
        "type": "action.skill",
        "config": {"skill": "os.execute_sandboxed", "arguments": {"command": "echo hi"}},
    }
    workflow = await create(client, admin, chain(node, enabled=True))
    await client.post(f"/api/approvals/{workflow['approvalId']}/approve", headers=admin.headers)
    started = await trigger(client, admin, workflow["id"])
    approval = await pending_approval(client, admin, events, started["taskId"])
    assert approval["toolName"] == "os.execute_sandboxed"
    await client.post(f"/api/approvals/{approval['id']}/reject", headers=admin.headers)
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Failed"
    assert run["error"]["code"] == "rejected"


async def test_cancelling_a_waiting_run_ends_it_and_its_task(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await create(
        client, admin, chain({"id": "w", "type": "logic.wait", "config": {"seconds": 3600}})
    )
    first = await trigger(client, admin, workflow["id"])
    await wait_run(client, admin, workflow["id"], first["runId"], WAITING)
    response = await client.post(
        f"/api/workflows/{workflow['id']}/runs/{first['runId']}/cancel", headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "Cancelled"
    task = (await client.get(f"/api/tasks/{first['taskId']}", headers=admin.headers)).json()
    assert task["status"] == "Cancelled"
    again = await client.post(
        f"/api/workflows/{workflow['id']}/runs/{first['runId']}/cancel", headers=admin.headers
    )
    assert_error(again, 409, "conflict")
    # through the task ledger too
    second = await trigger(client, admin, workflow["id"])
    await wait_run(client, admin, workflow["id"], second["runId"], WAITING)
    response = await client.post(f"/api/tasks/{second['taskId']}/cancel", headers=admin.headers)
    assert response.status_code == 200, response.text
    run = await wait_run(client, admin, workflow["id"], second["runId"])
    assert run["status"] == "Cancelled"


async def test_a_queued_run_cancelled_through_its_task_ends_cancelled(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    workflow = await create(client, admin, chain(transform("a", 1)))
    paused = await client.post("/api/ops/pause", headers=admin.headers)
    assert paused.status_code == 200, paused.text  # workers claim nothing: the run stays Queued
    started = await trigger(client, admin, workflow["id"])
    response = await client.post(f"/api/tasks/{started['taskId']}/cancel", headers=admin.headers)
    assert response.status_code == 200, response.text
    run = await wait_run(client, admin, workflow["id"], started["runId"])
    assert run["status"] == "Cancelled"
    assert run["nodes"] == []
    await client.post("/api/ops/resume", headers=admin.headers)


async def test_a_rejected_activation_is_asked_again_when_enabled_again(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    definition = chain(
        {"id": "code", "type": "action.execute_code", "config": {"code": "print(1)"}},
        enabled=True,
    )
    workflow = await create(client, admin, definition)
    first = workflow["approvalId"]
    await client.post(f"/api/approvals/{first}/reject", headers=admin.headers)
    again = await client.patch(
        f"/api/workflows/{workflow['id']}", headers=admin.headers, json={"enabled": True}
    )
    assert again.status_code == 200, again.text
    assert again.json()["approval"] == "Pending"
    assert again.json()["approvalId"] != first
    assert again.json()["enabled"] is False
