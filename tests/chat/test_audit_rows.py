"""Cancelling a task, deleting a session and forking one each write their audit row in the same
transaction as the change."""

from __future__ import annotations

import httpx

from tests.audit.audit_helpers import assert_entry, audit_entries, written_by
from tests.chat.chat_helpers import EventLog, chat_turn, pending_approval, send, wait_task
from tests.identity_helpers import Caller
from tests.runtime.test_tool_calls import PRINT_CODE


async def test_cancelling_a_task_is_audited_with_the_status_it_had(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await client.post("/api/ops/pause", headers=admin.headers)
    accepted = await send(client, admin, "wait for me")
    cancelled = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200, cancelled.text
    entry = written_by(await audit_entries(client, admin), cancelled, "task.cancel")
    assert_entry(entry, actor=admin, resource=("task", accepted["taskId"]))
    assert entry["details"] == {"status": "Queued"}


async def test_deleting_a_session_is_audited_with_the_tasks_it_cancelled(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    await pending_approval(client, admin, events, accepted["taskId"])
    deleted = await client.delete(f"/api/sessions/{accepted['sessionId']}", headers=admin.headers)
    assert deleted.status_code == 204
    entries = await audit_entries(client, admin)
    entry = written_by(entries, deleted, "session.delete")
    assert_entry(entry, actor=admin, resource=("chat_session", accepted["sessionId"]))
    assert entry["details"] == {"cancelledTasks": [accepted["taskId"]]}
    cancel = written_by(entries, deleted, "task.cancel")
    assert_entry(cancel, actor=admin, resource=("task", accepted["taskId"]))
    assert cancel["details"] == {"status": "Running"}
    assert (await wait_task(client, admin, accepted["taskId"]))["status"] == "Cancelled"


async def test_forking_a_session_is_audited_on_the_new_session(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, _ = await chat_turn(client, admin, "one")
    parent = accepted["sessionId"]
    forked = await client.post(f"/api/sessions/{parent}/fork", headers=admin.headers)
    assert forked.status_code == 201, forked.text
    entry = written_by(await audit_entries(client, admin), forked, "session.fork")
    assert_entry(entry, actor=admin, resource=("chat_session", forked.json()["id"]))
    assert entry["details"] == {"parentSessionId": parent, "messages": 2}


async def test_a_refused_cancel_writes_no_audit_row(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    accepted, _ = await chat_turn(client, admin, "done already")
    again = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert again.status_code == 409
    assert await audit_entries(client, admin, action="task.cancel") == []
