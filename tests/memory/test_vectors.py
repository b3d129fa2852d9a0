"""Hybrid search against a loopback OpenAI-compatible `/embeddings` server: embedding as a job,
fusion with the lexical list, staying lexical when the service is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sophon.gateway import Gateway
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.learning import jobs
from sophon.memory.schemas import EntryIn
from sophon.memory.search import vector_index, vectors
from sophon.platform.clock import utcnow
from sophon.platform.queue import ClaimedJob
from sophon.settings import Settings
from tests.identity_helpers import Caller, add_user
from tests.llm.fakes import FakeServer, JsonReply
from tests.memory.memory_helpers import ENTRIES, remember, search
from tests.providers.provider_helpers import tenant_session

EMBEDDINGS = "/v1/embeddings"


@pytest.fixture
def settings(settings: Settings, fake_server: FakeServer) -> Settings:
    fake_server.reset()
    return settings.model_copy(
        update={"memory_embedding_url": f"{fake_server.url}/v1", "memory_embedding_model": "emb"}
    )


def vectors_reply(*rows: list[float]) -> JsonReply:
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(rows)]
    return JsonReply({"object": "list", "data": data, "model": "emb"})


async def _count(app: FastAPI, sql: str) -> int:
    async with app.state.gateway.db.transaction(readonly=True) as db:
        return int(await db.scalar(text(sql)) or 0)


async def _indexed(app: FastAPI, dims: int) -> int | None:
    """Rows in the sqlite-vec index (None on PostgreSQL, which scans exactly)."""
    if app.state.gateway.db.dialect != "sqlite":
        return None
    return await _count(app, f"SELECT count(*) FROM memory_vec_{dims}")  # noqa: S608


async def _embed(app: FastAPI) -> Any:
    gateway: Gateway = app.state.gateway
    async with tenant_session(gateway) as db:
        tenant_id = db.info["tenant_id"]
    job = ClaimedJob(
        id="job_t", tenant_id=tenant_id, kind=vectors.EMBED_JOB, payload={}, attempts=1,
        max_attempts=3, serial_key=None, lease_expires_at=utcnow() + timedelta(minutes=1),
    )  # fmt: skip
    return await jobs.job_handlers(
        gateway.db, gateway.settings, gateway.vault, gateway.model_runtime
    )[vectors.EMBED_JOB](job)


async def test_hybrid_search_finds_by_meaning(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    car = await remember(client, admin, "My vehicle is a red hatchback.")
    dinner = await remember(client, admin, "Dinner with the Okafors at eight.")
    assert await _count(app, "SELECT count(*) FROM jobs WHERE kind = 'memory.embed'") == 1
    fake_server.script("POST", EMBEDDINGS, vectors_reply([1, 0, 0], [0, 1, 0]))
    assert await _embed(app) == {"embedded": 2}
    sent = fake_server.received(EMBEDDINGS)[0].json()
    assert sent == {"model": "emb", "input": [car["content"], dinner["content"]]}
    assert await _count(app, "SELECT count(*) FROM memory_embeddings") == 2
    fake_server.script("POST", EMBEDDINGS, vectors_reply([0.9, 0.2, 0]))
    found = await search(client, admin, "automobile colour")
    assert found["mode"] == "hybrid"
    assert found["items"][0]["entry"]["id"] == car["id"]
    assert found["items"][0]["matched"] == ["vector"]
    fake_server.script("POST", EMBEDDINGS, vectors_reply([0.1, 0.9, 0]))
    both = await search(client, admin, "dinner plans")
    assert both["items"][0]["entry"]["id"] == dinner["id"]
    assert both["items"][0]["matched"] == ["lexical", "vector"]
    assert both["items"][0]["score"] > both["items"][1]["score"]


async def test_changes_reembed_and_forgetting_drops_the_vector(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    made = await remember(client, admin, "The boat is moored at pier nine.")
    fake_server.script("POST", EMBEDDINGS, vectors_reply([1, 0]))
    await _embed(app)
    assert await _indexed(app, 2) in (1, None)
    changed = await client.patch(
        f"{ENTRIES}/{made['id']}", headers=admin.headers, json={"content": "The boat was sold."}
    )
    assert changed.status_code == 200
    assert await _count(app, "SELECT count(*) FROM memory_embeddings") == 0
    assert await _indexed(app, 2) in (0, None)
    fake_server.script("POST", EMBEDDINGS, vectors_reply([0, 1]))
    assert await _embed(app) == {"embedded": 1}
    assert fake_server.received(EMBEDDINGS)[-1].json()["input"] == ["The boat was sold."]
    assert await _indexed(app, 2) in (1, None)
    approval = (await client.post(f"{ENTRIES}/{made['id']}/forget", headers=admin.headers)).json()
    await client.post(f"/api/approvals/{approval['approvalId']}/approve", headers=admin.headers)
    assert await _count(app, "SELECT count(*) FROM memory_embeddings") == 0
    assert await _indexed(app, 2) in (0, None)


async def test_search_stays_lexical_when_the_service_fails(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    made = await remember(client, admin, "Quarterly numbers are due Monday.")
    fake_server.script("POST", EMBEDDINGS, JsonReply({"error": {"message": "down"}}, status=500))
    found = await search(client, admin, "quarterly numbers")
    assert found["mode"] == "lexical"
    assert [h["entry"]["id"] for h in found["items"]] == [made["id"]]
    fake_server.script("POST", EMBEDDINGS, JsonReply({"error": {"message": "down"}}, status=503))
    with pytest.raises(vectors.EmbeddingFailed):
        await _embed(app)  # the job fails its attempt; the queue retries it later


async def test_vector_hits_respect_visibility_however_many_nearer_ones_are_hidden(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Caller,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = await add_user(client, admin, "alice@example.com", ["Member"])
    hidden = [EntryIn(content=f"Tide table number {i} for the harbour.") for i in range(40)]
    async with tenant_session(app.state.gateway, readonly=False) as db:
        me = Actor.agent(db.info["tenant_id"], admin.id, None, admin.email)
        await entries.create_many(db, me, hidden, embed=True)
    mine = await remember(client, alice, "Alice keeps three hives of bees.")
    near, far = [1.0, 0.0, 0.0], [0.6, 0.8, 0.0]
    fake_server.script("POST", EMBEDDINGS, vectors_reply(*[near] * 40, far))
    assert await _embed(app) == {"embedded": 41}
    assert await _indexed(app, 3) in (41, None)
    # ask the index for exactly as many as wanted, so 30 hidden ones come back first; on
    # SQLite the exact scan is switched off, so only the index can find Alice's entry; on
    # PostgreSQL the exact scan reads the vectors in chunks of 7
    monkeypatch.setattr(vectors, "SCAN_CHUNK", 7)
    monkeypatch.setattr(vector_index, "OVERFETCH", 1)
    monkeypatch.setattr(vector_index, "K_START", 1)
    if app.state.gateway.db.dialect == "sqlite":
        monkeypatch.setattr(vectors, "exact_nearest", None)  # calling it would fail the test
    fake_server.script("POST", EMBEDDINGS, vectors_reply(near))
    found = await search(client, alice, "coastline")
    assert found["mode"] == "hybrid"
    assert [(h["entry"]["id"], h["matched"]) for h in found["items"]] == [(mine["id"], ["vector"])]
    fake_server.script("POST", EMBEDDINGS, vectors_reply(near))
    everything = await search(client, admin, "coastline", limit=50)
    assert len(everything["items"]) == 41
