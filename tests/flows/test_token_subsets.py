"""Issue 16: a token's permission subset binds on chat, tasks, approvals and memory as on every
other route: a `["ViewUsers"]` token can no longer approve a High-risk tool call, chat, cancel a
task or touch memory, and nothing it tried is written."""

from __future__ import annotations

import httpx

from tests.chat.chat_helpers import EventLog, pending_approval, send, wait_task
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.runtime.test_tool_calls import PRINT_CODE


async def _token(client: httpx.AsyncClient, admin: Caller, *permissions: str) -> dict[str, str]:
    made = await client.post(
        "/api/auth/tokens",
        headers=admin.headers,
        json={"name": "+".join(permissions), "permissions": list(permissions)},
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['token']}"}


def _missing(response: httpx.Response, permission: str) -> None:
    assert assert_error(response, 403, "not_authorized")["details"]["permission"] == permission


async def test_a_view_users_token_cannot_approve_chat_cancel_or_touch_memory(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    accepted = await send(client, admin, PRINT_CODE)
    approval = await pending_approval(client, admin, events, accepted["taskId"])
    narrow = await _token(client, admin, "ViewUsers")
    url = f"/api/approvals/{approval['id']}"
    for decision in ("approve", "reject"):
        _missing(await client.post(f"{url}/{decision}", headers=narrow), "ApproveActions")
    edited = await client.post(f"{url}/edit", headers=narrow, json={"arguments": {"code": "1"}})
    _missing(edited, "ApproveActions")
    _missing(await client.get(url, headers=narrow), "UseChat")
    cancel = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=narrow)
    _missing(cancel, "UseChat")
    chat = {"content": "sneak in", "sessionId": accepted["sessionId"]}
    _missing(await client.post("/api/chat", headers=narrow, json=chat), "UseChat")
    _missing(await client.get("/api/memory/entries", headers=narrow), "ViewMemory")
    saved = await client.post("/api/memory/entries", headers=narrow, json={"content": "planted"})
    _missing(saved, "EditMemory")
    # nothing was decided, cancelled, sent or saved
    assert (await client.get(url, headers=admin.headers)).json()["status"] == "Pending"
    history = await client.get(
        f"/api/sessions/{accepted['sessionId']}/messages", headers=admin.headers
    )
    assert [m["content"] for m in history.json()["items"]][:1] == [PRINT_CODE]
    assert "sneak in" not in history.text
    entries = await client.get("/api/memory/entries", headers=admin.headers)
    assert "planted" not in entries.text
    # a token holding ApproveActions decides it
    deciding = await _token(client, admin, "ApproveActions")
    approved = await client.post(f"{url}/approve", headers=deciding)
    assert approved.status_code == 200, approved.text
    assert (await wait_task(client, admin, accepted["taskId"]))["status"] == "Completed"
