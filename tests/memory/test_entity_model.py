"""Entities read by the tenant's model (a JSON-schema-constrained request, in a job), with the
deterministic extractor as the fallback for any failure."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sophon.gateway import Gateway
from sophon.memory.graph import entity_model
from sophon.memory.learning import jobs
from sophon.platform.clock import utcnow
from sophon.platform.queue import ClaimedJob
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.memory.memory_helpers import ENTRIES, remember
from tests.providers.provider_helpers import add_provider, tenant_session

COMPLETIONS = "/v1/chat/completions"
NOTE = "Priya Raman joined Northwind Traders as head of research."


@pytest.fixture
async def model(client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer) -> FakeServer:
    fake_server.reset()
    await add_provider(
        client, admin, name="loopback", type="openai", baseUrl=f"{fake_server.url}/v1",
        apiKey="sk-test-key", models=[{"id": "gpt-test"}], defaultModel="gpt-test",
    )  # fmt: skip
    return fake_server


async def _run_job(app: FastAPI) -> Any:
    gateway: Gateway = app.state.gateway
    async with tenant_session(gateway) as db:
        tenant_id = db.info["tenant_id"]
    job = ClaimedJob(
        id="job_e", tenant_id=tenant_id, kind=entity_model.JOB, payload={}, attempts=1,
        max_attempts=3, serial_key=None, lease_expires_at=utcnow() + timedelta(minutes=1),
    )  # fmt: skip
    return await jobs.job_handlers(
        gateway.db, gateway.settings, gateway.vault, gateway.model_runtime
    )[entity_model.JOB](job)


async def _scalar(app: FastAPI, sql: str) -> Any:
    async with app.state.gateway.db.transaction(readonly=True) as db:
        return await db.scalar(text(sql))


def _reply(answer: object) -> JsonReply:
    return JsonReply(openai_completion(json.dumps(answer)))


async def _entities(
    client: httpx.AsyncClient, caller: Caller, entry_id: str
) -> set[tuple[str, str]]:
    body = (await client.get(f"{ENTRIES}/{entry_id}", headers=caller.headers)).json()
    return {(e["name"], e["type"]) for e in body["entities"]}


async def test_the_models_reading_replaces_the_deterministic_one(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    made = await remember(client, admin, NOTE)
    assert ("Priya Raman", "person") in await _entities(client, admin, made["id"])
    jobs_queued = "SELECT count(*) FROM jobs WHERE kind = 'memory.entities'"
    assert await _scalar(app, jobs_queued) == 1
    answer = {
        "entities": [
            {"name": "Priya Raman", "type": "person"},
            {"name": "Northwind Traders", "type": "organization"},
            {"name": "research", "type": "concept"},
        ],
        "relations": [
            {"subject": "Priya Raman", "predicate": "works_at", "object": "Northwind Traders"},
            {"subject": "Priya Raman", "predicate": "leads", "object": "research"},
        ],
    }
    model.script("POST", COMPLETIONS, _reply(answer))
    assert await _run_job(app) == {"read": 1}
    sent = model.received(COMPLETIONS)[0].json()
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == entity_model.SCHEMA
    assert sent["messages"][-1]["content"] == NOTE
    assert await _entities(client, admin, made["id"]) == {
        ("Priya Raman", "person"), ("Northwind Traders", "organization"), ("research", "concept"),
    }  # fmt: skip
    found = await client.get(
        "/api/memory/graph", headers=admin.headers, params={"entity": "Priya Raman"}
    )
    names = {n["id"]: n["name"] for n in found.json()["nodes"]}
    edges = {
        (names[e["subject"]], e["predicate"], names[e["object"]])
        for e in found.json()["edges"]
        if e["predicate"] != "mentioned_with"  # co-mentions, drawn by the graph view
    }
    assert edges == {
        ("Priya Raman", "works_at", "Northwind Traders"), ("Priya Raman", "leads", "research"),
    }  # fmt: skip
    assert await _scalar(app, "SELECT graph_method FROM memory_entries") == "model"


@pytest.mark.parametrize(
    "answer",
    [
        "Sure! Priya works at Northwind.",  # no JSON at all
        json.dumps({"entities": [{"name": "Priya Raman", "type": "alien"}], "relations": []}),
        json.dumps(
            {
                "entities": [{"name": "Priya Raman", "type": "person"}],
                "relations": [{"subject": "Priya Raman", "predicate": "works_at", "object": "X"}],
            }
        ),  # a relation to an entity it did not list
    ],
)
async def test_a_malformed_answer_keeps_the_deterministic_reading(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, model: FakeServer, answer: str
) -> None:
    made = await remember(client, admin, NOTE)
    before = await _entities(client, admin, made["id"])
    model.script("POST", COMPLETIONS, JsonReply(openai_completion(answer)))
    assert await _run_job(app) == {"read": 1}
    assert len(model.received(COMPLETIONS)) == 1
    assert await _entities(client, admin, made["id"]) == before
    assert await _scalar(app, "SELECT graph_method FROM memory_entries") == "rules"


async def test_an_edit_asks_the_model_again(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, model: FakeServer
) -> None:
    made = await remember(client, admin, NOTE)
    model.script("POST", COMPLETIONS, _reply({"entities": [], "relations": []}))
    await _run_job(app)
    edited = "Tomás Ortega runs the Lisbon office."
    response = await client.patch(
        f"{ENTRIES}/{made['id']}", headers=admin.headers, json={"content": edited}
    )
    assert response.status_code == 200
    assert await _scalar(app, "SELECT graph_method FROM memory_entries") == "pending"
    fresh = {"entities": [{"name": "Tomás Ortega", "type": "person"}], "relations": []}
    model.script("POST", COMPLETIONS, _reply(fresh))
    assert await _run_job(app) == {"read": 1}
    assert model.received(COMPLETIONS)[-1].json()["messages"][-1]["content"] == edited
    assert await _entities(client, admin, made["id"]) == {("Tomás Ortega", "person")}


async def test_without_a_model_nothing_is_queued(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await remember(client, admin, NOTE)
    assert await _scalar(app, "SELECT count(*) FROM jobs WHERE kind = 'memory.entities'") == 0
    assert await _scalar(app, "SELECT graph_method FROM memory_entries") == "rules"
    assert ("Priya Raman", "person") in await _entities(client, admin, made["id"])
