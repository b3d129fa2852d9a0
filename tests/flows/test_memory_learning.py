"""Memory learning in batches: one model call per session per window of turns (or quiet spell),
not one per turn; its tokens are usage of the `memory` kind, shown in the agent's usage."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sophon.gateway import Gateway
from sophon.memory.learning import extraction, window
from sophon.platform.clock import utcnow
from sophon.platform.queue_models import Job
from sophon.platform.tenancy import ALL_TENANTS
from sophon.settings import Settings
from tests.agents.agent_helpers import default_agent
from tests.chat.chat_helpers import chat_turn
from tests.conftest import FakeClock
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, SseReply, openai_chunk, openai_completion
from tests.memory.memory_helpers import ENTRIES
from tests.providers.provider_helpers import add_provider

CHAT = "/v1/chat/completions"
WINDOW = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "task_lease_seconds": 3600,
            "scheduler_poll_seconds": 3600,
            "queue_poll_seconds": 0.05,
            "memory_learning_turns": WINDOW,
            "memory_learning_idle_seconds": 120.0,
        }
    )


def answer(text: str) -> SseReply:
    return SseReply(
        [
            openai_chunk({"content": text}),
            openai_chunk({}, finish_reason="stop"),
            openai_chunk(usage=(30, 5)),
            b"data: [DONE]\n\n",
        ]
    )


def memories(*contents: str) -> JsonReply:
    found = [{"content": c, "category": "fact", "importance": 0.7} for c in contents]
    return JsonReply(openai_completion(json.dumps({"memories": found}), usage=(200, 20)))


def learning_calls(fake: FakeServer) -> list[dict[str, Any]]:
    sent = [r.json() for r in fake.received(CHAT)]
    return [s for s in sent if s["messages"][0]["content"] == extraction.SYSTEM]


async def all_jobs(gateway: Gateway) -> list[Job]:
    async with gateway.db.transaction(readonly=True) as db:
        stmt = select(Job).order_by(Job.id).execution_options(**ALL_TENANTS)
        return list((await db.scalars(stmt)).all())


async def settled(gateway: Gateway, within: float = 20.0) -> list[Job]:
    """The learn jobs once no job at all is due and unfinished (the worker polls every 50 ms):
    the entity-graph jobs that saved memories queue have run too."""
    unfinished = ("Queued", "Running")
    for _ in range(int(within / 0.05)):
        found = await all_jobs(gateway)
        due = [j for j in found if j.status in unfinished and j.run_after <= utcnow()]
        if not due:
            return [j for j in found if j.kind == window.LEARN]
        await asyncio.sleep(0.05)
    raise AssertionError([(j.kind, j.status, j.run_after, j.payload) for j in due])


@pytest.fixture
async def provider(client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer) -> None:
    fake_server.reset()
    await add_provider(
        client, admin, name="loopback", type="openai", baseUrl=f"{fake_server.url}/v1",
        apiKey="sk-test-key", models=[{"id": "gpt-test"}], defaultModel="gpt-test",
    )  # fmt: skip


async def test_a_window_of_turns_costs_one_model_call(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake_server: FakeServer,
    provider: None,
    clock: FakeClock,
) -> None:
    fake_server.script("POST", CHAT, *[answer(f"Answer {i}.") for i in range(WINDOW)])
    fake_server.script("POST", CHAT, memories("The user lives in Ghent."))
    accepted, _ = await chat_turn(client, admin, "I live in Ghent.")
    session_id = accepted["sessionId"]
    for text in ("What is there to see?", "And to eat?"):
        _, task = await chat_turn(client, admin, text, sessionId=session_id)
        assert task["status"] == "Completed", task
    jobs = await settled(gateway)
    # the first turn queued the quiet-spell job, the third closed the window and brought that
    # job forward: one job, one model call
    assert [(j.payload["reason"], j.status) for j in jobs] == [("turns", "Completed")]
    (call,) = learning_calls(fake_server)
    transcript = call["messages"][-1]["content"]
    assert "I live in Ghent." in transcript
    assert "And to eat?" in transcript
    listed = (await client.get(ENTRIES, headers=admin.headers)).json()["items"]
    assert [e["content"] for e in listed] == ["The user lives in Ghent."]
    assert listed[0]["source"]["sessionId"] == session_id

    # a fourth turn opens the next window; the session then goes quiet: the idle job reads
    # only the turn after the first batch, with one more call
    fake_server.script("POST", CHAT, answer("Answer 3."), memories("The user likes waffles."))
    await chat_turn(client, admin, "I like waffles.", sessionId=session_id)
    clock.advance(seconds=121)
    jobs = await settled(gateway)
    assert [(j.payload["reason"], j.status) for j in jobs] == [
        ("turns", "Completed"), ("idle", "Completed"),
    ]  # fmt: skip
    calls = learning_calls(fake_server)
    assert len(calls) == 2
    second = calls[1]["messages"][-1]["content"]
    assert "I like waffles." in second
    assert "Ghent" not in second

    agent = await default_agent(client, admin)
    usage = (await client.get(f"/api/agents/{agent['id']}/usage", headers=admin.headers)).json()
    kinds = {k["kind"]: k for k in usage["byKind"]}
    assert kinds["memory"] == {"kind": "memory", "calls": 2, "inputTokens": 400,
                               "outputTokens": 40}  # fmt: skip
    assert kinds["chat"]["calls"] == WINDOW + 1
    assert kinds["chat"]["inputTokens"] == 30 * (WINDOW + 1)
    assert usage["inputTokens"] == 400 + 30 * (WINDOW + 1)


async def test_a_busy_session_is_learned_when_it_goes_quiet(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake_server: FakeServer,
    provider: None,
    clock: FakeClock,
) -> None:
    fake_server.script("POST", CHAT, answer("Hello."), answer("Noted."))
    fake_server.script("POST", CHAT, memories("The user has a dog."))
    accepted, _ = await chat_turn(client, admin, "Hi!")
    clock.advance(seconds=100)
    await chat_turn(client, admin, "I have a dog.", sessionId=accepted["sessionId"])
    clock.advance(seconds=21)  # the idle job is due, but the session spoke 21 s ago
    jobs = await settled(gateway)
    assert [(j.payload["reason"], j.status) for j in jobs] == [
        ("idle", "Completed"), ("idle", "Queued"),
    ]  # fmt: skip
    assert learning_calls(fake_server) == []
    clock.advance(seconds=100)  # quiet for 121 s now
    jobs = await settled(gateway)
    assert [j.status for j in jobs] == ["Completed", "Completed"]
    (call,) = learning_calls(fake_server)
    assert "Hi!" in call["messages"][-1]["content"]
    assert "I have a dog." in call["messages"][-1]["content"]


async def test_learning_off_for_the_agent_asks_no_model(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake_server: FakeServer,
    provider: None,
) -> None:
    agent = await default_agent(client, admin)
    await client.put(
        f"/api/memory/agents/{agent['id']}/settings",
        headers=admin.headers,
        json={"extractionEnabled": False},
    )
    fake_server.script("POST", CHAT, *[answer("Ok.") for _ in range(WINDOW)])
    accepted, _ = await chat_turn(client, admin, "I live in Ghent.")
    for _ in range(WINDOW - 1):
        await chat_turn(client, admin, "I like tea.", sessionId=accepted["sessionId"])
    jobs = await settled(gateway)
    assert [(j.payload["reason"], j.status) for j in jobs] == [("turns", "Completed")]
    assert learning_calls(fake_server) == []
    assert (await client.get(ENTRIES, headers=admin.headers)).json()["items"] == []


async def test_agent_usage_of_an_unknown_agent_or_a_bad_window(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    missing = await client.get("/api/agents/agt_missing/usage", headers=admin.headers)
    assert_error(missing, 404, "not_found")
    agent = await default_agent(client, admin)
    for days in ("0", "367", "x"):
        bad = await client.get(
            f"/api/agents/{agent['id']}/usage", headers=admin.headers, params={"days": days}
        )
        assert_error(bad, 422, "validation_failed")
    fresh = (await client.get(f"/api/agents/{agent['id']}/usage", headers=admin.headers)).json()
    assert [k["kind"] for k in fresh["byKind"]] == ["chat", "memory"]
    assert fresh["inputTokens"] == fresh["outputTokens"] == 0
