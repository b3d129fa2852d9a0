"""Cancelling a turn while the model streams and while a tool runs (cooperative: the running
call finishes and is recorded), and who may see and decide an approval."""

from __future__ import annotations

import asyncio

import httpx

from sophon.gateway import Gateway
from sophon.tools.registry import RiskLevel, Tool
from tests.agents.agent_helpers import default_agent
from tests.chat.chat_helpers import EventLog, messages, pending_approval, send, wait_task
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import FakeServer, SseReply, openai_chunk
from tests.runtime.test_tool_calls import PRINT_CODE

CHAT = "/v1/chat/completions"


async def test_cancel_while_the_model_streams_drops_the_stream(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, events: EventLog
) -> None:
    held = SseReply([openai_chunk({"role": "assistant", "content": "Thinking"})], hold_open=True)
    model.script("POST", CHAT, held)
    accepted = await send(client, admin, "long answer please")
    await events.named("StreamChunk", accepted["taskId"])
    cancelled = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Cancelled"
    assert await asyncio.to_thread(held.disconnected.wait, 10)
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user"]


async def test_cancel_during_a_tool_call_lets_it_finish_and_records_it(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, events: EventLog
) -> None:
    release = asyncio.Event()

    async def slow(context: object, arguments: dict[str, object]) -> str:
        await release.wait()
        return "slow work done"

    gateway.tools.register(
        Tool(
            "slow.work", "Takes a while", {"type": "object", "properties": {}}, RiskLevel.LOW, slow
        )
    )
    agent = await default_agent(client, admin)
    await client.put(
        f"/api/agents/{agent['id']}/tools", headers=admin.headers, json={"tools": ["slow.*"]}
    )
    accepted = await send(client, admin, "/tool slow.work {}")
    await events.named("ToolCallStarted", accepted["taskId"])
    cancelled = await client.post(f"/api/tasks/{accepted['taskId']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200
    release.set()
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Cancelled"
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[2]["content"] == "slow work done"
    assert history[1]["toolCalls"][0]["status"] == "completed"


async def test_approvals_belong_to_their_requester(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, events: EventLog
) -> None:
    owner = await add_user(client, admin, "owner@example.com", roles=["Member"])
    other = await add_user(client, admin, "other@example.com", roles=["Member"])
    accepted = await send(client, owner, PRINT_CODE)
    approval = await pending_approval(client, owner, events, accepted["taskId"])
    url = f"/api/approvals/{approval['id']}"
    assert_error(await client.get(url, headers=other.headers), 404, "not_found")
    refused = await client.post(f"{url}/approve", headers=other.headers)  # deciding: ApproveActions
    assert assert_error(refused, 403, "not_authorized")["details"]["permission"] == "ApproveActions"
    assert (await client.get("/api/approvals", headers=other.headers)).json()["items"] == []
    seen_by_admin = (await client.get("/api/approvals", headers=admin.headers)).json()["items"]
    assert [a["id"] for a in seen_by_admin] == [approval["id"]]
    # the requester sees it but may not decide it, in the Personal tier too (issue 16)
    refused = await client.post(f"{url}/reject", headers=owner.headers)
    assert assert_error(refused, 403, "not_authorized")["details"]["permission"] == "ApproveActions"
    assert (await client.get(url, headers=owner.headers)).json()["status"] == "Pending"
    decided = await client.post(f"{url}/reject", headers=admin.headers)
    assert decided.status_code == 200, decided.text
    assert (await wait_task(client, owner, accepted["taskId"]))["status"] == "Completed"
