"""Tool calls in a turn (the echo model asks for them with `/tool name {json}` lines): execution,
events, the allowlist, and the approval gate's approve, edit, reject and timeout paths."""

from __future__ import annotations

import httpx

from tests.chat.chat_helpers import EventLog, chat_turn, messages, pending_approval, send, wait_task
from tests.conftest import FakeClock
from tests.helpers import assert_error
from tests.identity_helpers import Caller

PRINT_CODE = '/tool code.execute {"code": "print(6 * 7)"}'


async def test_a_safe_tool_runs_and_its_result_reaches_the_model(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted, task = await chat_turn(client, admin, "/tool datetime.now {}")
    assert task["status"] == "Completed", task
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    (call,) = history[1]["toolCalls"]
    assert call["name"] == "datetime.now"
    assert call["status"] == "completed"
    assert call["riskLevel"] == "None"
    assert history[2]["toolCallId"] == call["id"]
    assert history[3]["content"].startswith("(offline echo model) Tool results: datetime.now:")
    names = [e.name for e in events.of_task(accepted["taskId"])]
    assert names.index("ToolCallStarted") < names.index("ToolCallCompleted")
    completed = await events.named("ToolCallCompleted", accepted["taskId"])
    assert completed.payload["ok"] is True
    assert completed.payload["toolName"] == "datetime.now"
    assert task["toolCalls"][0]["name"] == "datetime.now"


async def test_the_default_agent_of_a_fresh_install_can_tell_the_time(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, task = await chat_turn(client, admin, "/tool datetime.now {}")
    assert task["status"] == "Completed", task
    assert [(c["name"], c["status"]) for c in task["toolCalls"]] == [("datetime.now", "completed")]
    history = await messages(client, admin, accepted["sessionId"])
    assert history[3]["content"].startswith("(offline echo model) Tool results: datetime.now:")


async def test_a_tool_outside_the_allowlist_is_an_error_result(
    client: httpx.AsyncClient, admin: Caller, agent_id: str
) -> None:
    accepted, task = await chat_turn(client, admin, '/tool memory.nothing {"q": 1}')
    assert task["status"] == "Completed"
    history = await messages(client, admin, accepted["sessionId"])
    assert history[1]["toolCalls"][0]["status"] == "failed"
    assert "not available to this agent" in history[2]["content"]
    assert "(error)" in history[3]["content"]


async def test_a_high_risk_call_waits_for_approval_and_runs_once_approved(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    assert approval["toolName"] == "code.execute"
    assert approval["riskLevel"] == "High"
    assert approval["status"] == "Pending"
    assert approval["preview"] == "print(6 * 7)"
    assert approval["sessionId"] == accepted["sessionId"]
    assert approval["requesterId"] == admin.id
    status = await events.wait_for(
        lambda e: e.name == "AgentStatus" and e.payload["status"] == "waiting_approval"
    )
    assert status.payload["taskId"] == accepted["taskId"]
    listed = (await client.get("/api/approvals", headers=admin.headers)).json()["items"]
    assert [a["id"] for a in listed] == [approval["id"]]

    approved = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "Approved"
    task = await wait_task(client, admin, accepted["taskId"])
    history = await messages(client, admin, accepted["sessionId"])
    assert "42" in history[2]["content"]
    assert history[1]["toolCalls"][0]["approvalId"] == approval["id"]
    assert task["status"] == "Completed"
    resolved = await events.wait_for(lambda e: e.name == "ApprovalResolved")
    assert resolved.payload["status"] == "Approved"
    requested = await events.wait_for(lambda e: e.name == "ApprovalRequested")
    assert requested.tenant_id is not None
    assert requested.tenant_id == resolved.tenant_id

    twice = await client.post(f"/api/approvals/{approval['id']}/reject", headers=admin.headers)
    assert_error(twice, 409, "conflict")
    history_page = (await client.get("/api/approvals/history", headers=admin.headers)).json()
    assert [a["id"] for a in history_page["items"]] == [approval["id"]]
    audit = await client.get(
        "/api/admin/audit", headers=admin.headers, params={"action": "approval."}
    )
    assert [e["action"] for e in audit.json()["items"]] == ["approval.approved"]


async def test_invalid_arguments_are_an_error_result_at_once_and_ask_no_one(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted, task = await chat_turn(client, admin, '/tool code.execute {"code": 7}')
    assert task["status"] == "Completed", task
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    (call,) = history[1]["toolCalls"]
    assert (call["status"], call["approvalId"]) == ("failed", None)
    assert history[2]["content"] == (
        "Invalid arguments for code.execute: code: Input should be a valid string."
    )
    assert "code.execute (error): " in history[3]["content"]
    assert "ApprovalRequested" not in [e.name for e in events.of_task(accepted["taskId"])]
    for listing in ("/api/approvals", "/api/approvals/history"):
        assert (await client.get(listing, headers=admin.headers)).json()["items"] == []


async def test_the_approval_shows_the_arguments_that_will_run(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    ran = {"code": "print(6 * 7)", "stdin": "", "timeoutSeconds": 30.0}
    assert approval["arguments"] == ran
    approved = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert approved.json()["approvedArguments"] == ran
    await wait_task(client, admin, accepted["taskId"])
    history = await messages(client, admin, accepted["sessionId"])
    assert history[1]["toolCalls"][0]["arguments"] == ran
    assert "stdout:\n42\n" in history[2]["content"]


async def test_edit_approves_with_changed_arguments_checked_against_the_schema(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    url = f"/api/approvals/{approval['id']}/edit"
    bad = await client.post(url, headers=admin.headers, json={"arguments": {"code": 7}})
    assert_error(bad, 422, "validation_failed")
    still = (await client.get(f"/api/approvals/{approval['id']}", headers=admin.headers)).json()
    assert still["status"] == "Pending"
    edited = await client.post(
        url, headers=admin.headers, json={"arguments": {"code": "print('edited')"}}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["approvedArguments"]["code"] == "print('edited')"
    await wait_task(client, admin, accepted["taskId"])
    history = await messages(client, admin, accepted["sessionId"])
    assert "edited" in history[2]["content"]
    assert history[1]["toolCalls"][0]["arguments"]["code"] == "print('edited')"


async def test_a_rejected_call_becomes_an_error_the_model_sees(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    rejected = await client.post(
        f"/api/approvals/{approval['id']}/reject",
        headers=admin.headers,
        json={"reason": "not today"},
    )
    assert rejected.status_code == 200, rejected.text
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed"
    history = await messages(client, admin, accepted["sessionId"])
    assert history[1]["toolCalls"][0]["status"] == "rejected"
    assert history[2]["content"] == "The user rejected this call: not today"
    # what the model read: the result, as untrusted text inside the external-content wrapper
    answer = history[3]["content"]
    assert "code.execute (error): <external_content id=" in answer
    assert 'source="tool:code.execute">\nThe user rejected this call: not today' in answer


async def test_an_approval_that_times_out_counts_as_rejected(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog, clock: FakeClock
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    clock.advance(minutes=5, seconds=1)
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed"
    expired = (await client.get(f"/api/approvals/{approval['id']}", headers=admin.headers)).json()
    assert expired["status"] == "Expired"
    history = await messages(client, admin, accepted["sessionId"])
    assert history[2]["content"] == "The approval timed out, so the call was not made."
    late = await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    assert_error(late, 409, "conflict")


async def test_unknown_approvals_are_404(client: httpx.AsyncClient, admin: Caller) -> None:
    assert_error(
        await client.get("/api/approvals/apr_nope", headers=admin.headers), 404, "not_found"
    )
    assert_error(
        await client.post("/api/approvals/apr_nope/approve", headers=admin.headers),
        404,
        "not_found",
    )
