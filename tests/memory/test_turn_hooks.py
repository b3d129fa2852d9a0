"""What the agent loop uses: context for a turn, extraction after it, daily logs and the jobs."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from fastapi import FastAPI

from sophon.gateway import Gateway
from sophon.memory import recall
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.learning import daily_logs, extraction, jobs
from sophon.memory.schemas import EntryIn
from sophon.memory.search import vectors
from sophon.platform.clock import utcnow
from sophon.platform.queue import ClaimedJob
from sophon.platform.tenancy import session_tenant
from tests.agents.agent_helpers import create_agent, default_agent
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.memory.memory_helpers import ENTRIES, entry_ids, remember
from tests.providers.provider_helpers import add_provider, tenant_session

LOGS = "/api/memory/daily-logs"


async def _propose(
    app: FastAPI, user: Caller, agent_id: str, messages: list[extraction.Turn], session_id: str
) -> list[str]:
    gateway = _gateway(app)
    async with tenant_session(gateway) as db:
        tenant_id = session_tenant(db.sync_session)
    assert tenant_id is not None
    return await extraction.propose(
        gateway.db,
        gateway.vault,
        gateway.model_runtime,
        embed=vectors.enabled(gateway.settings),
        tenant_id=tenant_id,
        user_id=user.id,
        agent_id=agent_id,
        session_id=session_id,
        messages=messages,
    )


def _gateway(app: FastAPI) -> Gateway:
    gateway: Gateway = app.state.gateway
    return gateway


def _job(kind: str, payload: dict[str, object], tenant_id: str) -> ClaimedJob:
    return ClaimedJob(
        id="job_test", tenant_id=tenant_id, kind=kind, payload=payload, attempts=1,
        max_attempts=3, serial_key=None, lease_expires_at=utcnow() + timedelta(minutes=1),
    )  # fmt: skip


async def test_context_picks_relevant_memories_within_budget(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    agent = await create_agent(client, admin, "Concierge")
    other = await create_agent(client, admin, "Other")
    async with tenant_session(_gateway(app), readonly=False) as db:
        me = Actor.agent(db.info["tenant_id"], alice.id, None, alice.email)
        filler = [
            EntryIn(content=f"Routine note {i} about groceries and errands.", importance=0.1)
            for i in range(80)
        ]
        await entries.create_many(db, me, filler)
    await remember(client, alice, "Alice is allergic to peanuts.", importance=0.9)
    await remember(client, alice, "Alice's sister Maya lives in Denver.", importance=0.2)
    await remember(client, admin, "Admin's sister lives in Rome.")
    await remember(client, admin, "Greet users by name.", scope="agent", agentId=agent["id"])
    await remember(client, admin, "Speak like a pirate.", scope="agent", agentId=other["id"])
    async with tenant_session(_gateway(app), readonly=False) as db:
        text = await recall.for_turn(
            db, user_id=alice.id, agent_id=agent["id"], query="Where does my sister live?",
            token_budget=60,
        )  # fmt: skip
    assert "Maya lives in Denver" in text
    assert "Rome" not in text
    assert "pirate" not in text
    assert len(text) <= 60 * 4
    async with tenant_session(_gateway(app), readonly=False) as db:
        wide = await recall.for_turn(
            db, user_id=alice.id, agent_id=agent["id"], query="hello", token_budget=4000
        )
    assert "peanuts" in wide  # important ones fill the rest
    assert "Greet users by name." in wide
    assert wide.count("\n- ") < 80  # not every memory once there are many
    async with tenant_session(_gateway(app)) as db:
        assert (
            await recall.for_turn(
                db, user_id=alice.id, agent_id=agent["id"], query="x", token_budget=0
            )
            == ""
        )


async def test_extraction_without_a_model_uses_patterns_and_dedups(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    turns = [
        ("user", "Hi! I prefer short answers. What's the weather like?", "msg_1"),
        ("assistant", "I prefer to check first.", "msg_2"),
        ("user", "Remember that my badge number is B-1234.", "msg_3"),
    ]
    made = await _propose(app, admin, agent["id"], turns, "sess_1")
    assert len(made) == 2
    rows = [(await client.get(f"{ENTRIES}/{i}", headers=admin.headers)).json() for i in made]
    assert {r["content"] for r in rows} == {
        "I prefer short answers.",
        "Remember that my badge number is B-1234.",
    }
    assert rows[0]["source"]["type"] == "extraction"
    assert {r["source"]["messageId"] for r in rows} == {"msg_1", "msg_3"}
    again = [("user", "Remember that my badge number is B-1235.", "msg_9")]
    updated = await _propose(app, admin, agent["id"], again, "sess_1")
    badge = next(i for i, r in zip(made, rows, strict=True) if "badge" in r["content"])
    assert updated == [badge]
    assert len(await entry_ids(client, admin)) == 2
    now = (await client.get(f"{ENTRIES}/{badge}", headers=admin.headers)).json()
    assert now["content"].endswith("B-1235.")
    assert now["version"] == 2
    switched = await client.put(
        f"/api/memory/agents/{agent['id']}/settings", headers=admin.headers,
        json={"extractionEnabled": False},
    )  # fmt: skip
    assert switched.json() == {"agentId": agent["id"], "extractionEnabled": False}
    assert await _propose(app, admin, agent["id"], [("user", "I love jazz.", "m")], "s") == []


async def test_extraction_by_the_model(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    fake_server.reset()
    await add_provider(
        client, admin, name="loopback", type="openai", baseUrl=f"{fake_server.url}/v1",
        apiKey="sk-test-key", models=[{"id": "gpt-test"}], defaultModel="gpt-test",
    )  # fmt: skip
    answer = {
        "memories": [
            {"content": "The user is vegetarian.", "category": "preference", "importance": 0.8,
             "messageIndex": 0},
            {"content": "", "category": "fact"},
        ]
    }  # fmt: skip
    fake_server.script(
        "POST",
        "/v1/chat/completions",
        JsonReply(openai_completion("```json\n" + json.dumps(answer) + "\n```")),
    )
    agent = await default_agent(client, admin)
    made = await _propose(
        app, admin, agent["id"], [("user", "I don't eat meat, by the way.", "msg_1")], "sess_1"
    )
    (entry_id,) = made
    entry = (await client.get(f"{ENTRIES}/{entry_id}", headers=admin.headers)).json()
    assert (entry["content"], entry["category"], entry["importance"]) == (
        "The user is vegetarian.", "preference", 0.8,
    )  # fmt: skip
    assert entry["source"]["messageId"] == "msg_1"
    sent = fake_server.received("/v1/chat/completions")[0].json()
    assert "I don't eat meat" in sent["messages"][-1]["content"]


async def test_daily_logs_on_demand_and_by_the_job(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    agent = await default_agent(client, admin)
    for who, text in ((admin, "Plan the team offsite in May"), (alice, "Draft my CV")):
        sent = await client.post("/api/chat", headers=who.headers, json={"content": text})
        assert sent.status_code == 202, sent.text
    mine = (await client.get(LOGS, headers=alice.headers)).json()["items"]
    assert len(mine) == 1
    (log,) = mine
    assert (log["agentId"], log["userId"], log["final"], log["method"]) == (
        agent["id"], alice.id, False, "digest",
    )  # fmt: skip
    assert log["date"] == utcnow().date().isoformat()
    assert log["lines"][0].startswith("[" + utcnow().strftime("%Y-%m-%d"))
    assert "Draft my CV" in log["lines"][0]
    assert log["stats"]["tasks"] == 1
    everyone = (await client.get(LOGS, headers=admin.headers, params={"agent": agent["id"]})).json()
    assert {i["userId"] for i in everyone["items"]} == {admin.id, alice.id}
    assert (
        await client.get(LOGS, headers=admin.headers, params={"date": "2020-01-01"})
    ).json() == {"items": []}
    assert_error(
        await client.get(LOGS, headers=admin.headers, params={"date": "yesterday"}),
        422,
        "validation_failed",
    )
    assert_error(
        await client.get(LOGS, headers=admin.headers, params={"agent": "agt_nope"}),
        404,
        "not_found",
    )
    gateway = _gateway(app)
    async with tenant_session(gateway) as db:
        tenant_id = db.info["tenant_id"]
        recent = await daily_logs.recent(db, agent["id"], user_id=alice.id)
    assert "Draft my CV" in recent
    assert "offsite" not in recent
    handlers = jobs.job_handlers(gateway.db, gateway.settings, gateway.vault, gateway.model_runtime)
    today = utcnow().date()
    done = await handlers[jobs.DAILY_LOG](
        _job(jobs.DAILY_LOG, {"day": today.isoformat()}, tenant_id)
    )
    assert done == {"logs": 2}
    stored = (await client.get(LOGS, headers=alice.headers)).json()["items"]
    assert stored[0]["lines"] == log["lines"]
    assert stored[0]["builtAt"] != log["builtAt"]
    async with tenant_session(gateway) as db:
        assert await jobs.schedule_daily_logs(db) is None  # the handler queued tomorrow's run


async def test_a_busy_days_log_shows_the_agent_its_newest_tasks(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    count = daily_logs.PROMPT_LINES + 3
    for n in range(count):
        sent = await client.post(
            "/api/chat", headers=admin.headers, json={"content": f"job {n:02d}"}
        )
        assert sent.status_code == 202, sent.text
    async with tenant_session(_gateway(app)) as db:
        recent = await daily_logs.recent(db, agent["id"], user_id=admin.id)
    assert f"{count} task(s) in" in recent  # the summary still counts every task
    assert "(and 3 earlier task(s))" in recent
    assert "job 03" in recent
    assert f"job {count - 1:02d}" in recent
    assert "job 02" not in recent
    listed = (await client.get(LOGS, headers=admin.headers)).json()["items"]
    assert len(listed[0]["lines"]) == count  # the API keeps the whole day
    # counted in the database for the prompt, the same summary as the whole day's (no tools)
    assert f"{listed[0]['summary']}\n(and 3 earlier" in recent


async def test_the_extraction_job_reads_the_turn(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    agent = await default_agent(client, admin)
    sent = await client.post(
        "/api/chat", headers=admin.headers, json={"content": "I live in Ghent. Any tips?"}
    )
    accepted = sent.json()
    gateway = _gateway(app)
    async with tenant_session(gateway) as db:
        tenant_id = db.info["tenant_id"]
    payload = {"userId": admin.id, "agentId": agent["id"], "sessionId": accepted["sessionId"],
               "taskId": accepted["taskId"]}  # fmt: skip
    result = await jobs.job_handlers(
        gateway.db, gateway.settings, gateway.vault, gateway.model_runtime
    )[jobs.EXTRACT](_job(jobs.EXTRACT, payload, tenant_id))
    assert result is not None
    assert len(result["entries"]) == 1
    entry = (await client.get(f"{ENTRIES}/{result['entries'][0]}", headers=admin.headers)).json()
    assert entry["content"] == "I live in Ghent."
    assert entry["source"] == {"type": "extraction", "sessionId": accepted["sessionId"],
                               "messageId": accepted["messageId"]}  # fmt: skip
