"""The agent loop against a loopback OpenAI-compatible server: streamed text and tool-call
deltas, the request the model receives (persona, wrapped tool results), provider failures,
budgets, compaction and planning."""

from __future__ import annotations

from pathlib import Path

import httpx

from sophon.agents.files import FileKind, file_path, sha256_of
from sophon.gateway import Gateway
from tests.chat.chat_helpers import EventLog, chat_turn, messages, wait_task
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    OPENAI_DONE,
    FakeServer,
    JsonReply,
    SseReply,
    openai_chunk,
    openai_completion,
    openai_error,
)
from tests.turn_fixtures import PlannedNote

CHAT = "/v1/chat/completions"


def streamed_tool_call(name: str, arguments: str) -> SseReply:
    """Text, then one tool call whose arguments arrive in two deltas, as OpenAI streams them."""
    half = len(arguments) // 2
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    return SseReply(
        [
            openai_chunk({"role": "assistant", "content": "Let me check."}),
            openai_chunk({"tool_calls": [call]}),
            openai_chunk(
                {"tool_calls": [{"index": 0, "function": {"arguments": arguments[:half]}}]}
            ),
            openai_chunk(
                {"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]}
            ),
            openai_chunk({}, finish_reason="tool_calls"),
            openai_chunk(usage=(40, 9)),
            OPENAI_DONE,
        ]
    )


def streamed_text(*pieces: str) -> SseReply:
    chunks = [openai_chunk({"content": piece}) for piece in pieces]
    return SseReply(
        [*chunks, openai_chunk({}, finish_reason="stop"), openai_chunk(usage=(30, 5)), OPENAI_DONE]
    )


async def test_a_streamed_turn_with_a_tool_call(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, events: EventLog
) -> None:
    model.script(
        "POST",
        CHAT,
        streamed_tool_call("datetime__now", '{"timezone": "UTC"}'),
        streamed_text("It is ", "now."),
    )
    accepted, task = await chat_turn(client, admin, "What time is it?")
    assert task["status"] == "Completed", task
    first, second = (r.json() for r in model.received(CHAT))
    system = first["messages"][0]
    assert system["role"] == "system"
    assert "SOUL.md" in system["content"]
    assert "external_content" in system["content"]
    assert "datetime__now" in [t["function"]["name"] for t in first["tools"]]
    tool_result = second["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["tool_call_id"] == "call_1"
    assert tool_result["content"].startswith("<external_content id=")
    assert 'source="tool:datetime.now"' in tool_result["content"]

    history = await messages(client, admin, accepted["sessionId"])
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[1]["content"] == "Let me check."
    assert history[1]["toolCalls"][0]["arguments"] == {"timezone": "UTC"}
    assert history[3]["content"] == "It is now."
    assert task["inputTokens"] == 70
    assert task["outputTokens"] == 14

    names = [e.name for e in events.of_task(accepted["taskId"])]
    assert names[:3] == ["TaskQueued", "TaskStarted", "AgentStatus"]
    tenants = {e.tenant_id for e in events.of_task(accepted["taskId"])}
    assert len(tenants) == 1
    assert None not in tenants  # hubs deliver only events that name their tenant
    assert names[-2:] == ["ReceiveMessage", "TaskCompleted"]
    chunks = [e.payload for e in events.of_task(accepted["taskId"]) if e.name == "StreamChunk"]
    assert "".join(c["delta"] for c in chunks) == "Let me check.It is now."
    assert chunks[-1]["isFinal"] is True
    received = await events.named("ReceiveMessage", accepted["taskId"])
    assert received.payload["content"] == "It is now."
    assert received.payload["sessionId"] == accepted["sessionId"]
    completed = await events.named("TaskCompleted", accepted["taskId"])
    assert completed.payload["tokensUsed"] == 84


async def test_the_prompt_holds_the_persona_files_as_saved_and_as_edited_on_disk(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer, data_dir: Path
) -> None:
    saved = await client.put(
        f"/api/agents/{agent_id}/files/tools-guide",
        headers=admin.headers,
        json={"content": "Prefer the calendar tool."},
    )
    assert saved.status_code == 200, saved.text
    file_path(data_dir, agent_id, FileKind.SOUL).write_text("You are Ada, terse and exact.\n")
    model.script("POST", CHAT, streamed_text("Hi."))
    _, task = await chat_turn(client, admin, "Hello")
    assert task["status"] == "Completed", task
    system = model.received(CHAT)[0].json()["messages"][0]["content"]
    assert "Prefer the calendar tool." in system
    assert "You are Ada, terse and exact." in system
    soul = f"/api/agents/{agent_id}/files/soul/versions"
    newest = (await client.get(soul, headers=admin.headers)).json()["items"][0]
    assert newest["actor"]["kind"] == "disk"  # the edit on disk is recorded as its own version
    assert newest["sha256"] == sha256_of("You are Ada, terse and exact.\n")


async def test_provider_failure_fails_the_task_and_the_session_stays_usable(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, events: EventLog
) -> None:
    broken = JsonReply(openai_error("boom", "server_error"), 500)
    model.script("POST", CHAT, *[broken] * 3)
    accepted, task = await chat_turn(client, admin, "hello", isStreaming=False)
    assert task["status"] == "Failed"
    assert task["errorCode"] == "upstream_unavailable"
    assert "loopback" in task["error"]
    failed = await events.named("TaskFailed", accepted["taskId"])
    assert "loopback" in failed.payload["error"]
    model.script("POST", CHAT, JsonReply(openai_completion("Back again.")))
    _, retry = await chat_turn(
        client, admin, "again", sessionId=accepted["sessionId"], isStreaming=False
    )
    assert retry["status"] == "Completed"
    history = await messages(client, admin, accepted["sessionId"])
    assert [m["content"] for m in history] == ["hello", "again", "Back again."]


async def test_a_spent_daily_budget_fails_the_turn(
    client: httpx.AsyncClient, admin: Caller, model: FakeServer, agent_id: str
) -> None:
    patched = await client.patch(
        f"/api/agents/{agent_id}", headers=admin.headers, json={"budget": {"dailyTokens": 50}}
    )
    assert patched.status_code == 200, patched.text
    model.script("POST", CHAT, JsonReply(openai_completion("Fine.", usage=(40, 20))))
    accepted, first = await chat_turn(client, admin, "one", isStreaming=False)
    assert first["status"] == "Completed"
    _, second = await chat_turn(client, admin, "two", sessionId=accepted["sessionId"])
    assert second["status"] == "Failed"
    assert second["errorCode"] == "budget_exceeded"
    assert "daily token budget (50 tokens)" in second["error"]
    assert len(model.received(CHAT)) == 1


async def test_a_long_history_is_compacted_into_a_summary(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, model: FakeServer
) -> None:
    patched = await client.patch(
        f"/api/agents/{(await _default(client, admin))}", headers=admin.headers,
        json={"maxTokens": 256},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    model.script("POST", CHAT, *[JsonReply(openai_completion("ok " * 400)) for _ in range(4)])
    model.script("POST", CHAT, JsonReply(openai_completion("Summary: we talked.")))
    model.script("POST", CHAT, JsonReply(openai_completion("Fresh answer.")))
    model.script("POST", CHAT, JsonReply(openai_completion("Next answer.")))
    first, _ = await chat_turn(client, admin, "turn 0 " + "x" * 2000, isStreaming=False)
    session = first["sessionId"]
    for n in range(1, 4):
        await chat_turn(
            client, admin, f"turn {n} " + "x" * 2000, sessionId=session, isStreaming=False
        )
    # the catalog now gives the model a small window, which the history outgrows: compaction
    (provider,) = (await client.get("/api/models/providers", headers=admin.headers)).json()["items"]
    resized = await client.patch(
        f"/api/models/providers/{provider['id']}",
        headers=admin.headers,
        json={"models": [{"id": "gpt-test", "contextWindow": 3000}]},
    )
    assert resized.status_code == 200, resized.text
    _, last = await chat_turn(
        client, admin, "latest question", sessionId=session, isStreaming=False
    )
    assert last["status"] == "Completed", last
    history = await messages(client, admin, session)
    summaries = [m for m in history if m["role"] == "system"]
    assert len(summaries) == 1
    assert summaries[0]["content"] == "Summary: we talked."
    final_request = model.received(CHAT)[-1].json()["messages"]
    assert final_request[1]["content"].startswith("Summary of the earlier conversation:")
    assert final_request[-1]["content"] == "latest question"
    assert not any("turn 0" in m["content"] for m in final_request if m["role"] == "user")
    # the next turn starts from the summary too, with what came after it
    await chat_turn(client, admin, "and then?", sessionId=session, isStreaming=False)
    after = model.received(CHAT)[-1].json()["messages"]
    assert after[1]["content"].startswith("Summary of the earlier conversation:")
    assert [m["content"] for m in after[-3:]] == ["latest question", "Fresh answer.", "and then?"]
    users = [m["content"] for m in final_request if m["role"] == "user"]
    assert [m["content"] for m in after if m["role"] == "user"] == [*users, "and then?"]


async def test_a_plan_with_a_medium_step_needs_one_approval(
    client: httpx.AsyncClient, admin: Caller, planned_note: PlannedNote
) -> None:
    accepted, approval = planned_note.accepted, planned_note.approval
    assert approval["riskLevel"] == "Medium"
    assert "write it" in approval["preview"]
    await client.post(f"/api/approvals/{approval['id']}/approve", headers=admin.headers)
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed"
    assert task["plan"]["goal"] == "Take a note"
    assert task["plan"]["steps"][0]["estimatedRisk"] == "Medium"
    assert task["toolCalls"][0]["status"] == "completed"
    history = await messages(client, admin, accepted["sessionId"])
    assert history[2]["content"] == "noted milk"


async def _default(client: httpx.AsyncClient, admin: Caller) -> str:
    from tests.agents.agent_helpers import default_agent

    return str((await default_agent(client, admin))["id"])
