"""Document chunks in hybrid search, with memory's embedding engine against a loopback
OpenAI-compatible `/embeddings` server: chunks embedded by the pipeline, a chunk found by meaning
alone, the lexical list fused in, lexical search when the service is down, and a failed
embedding retried by a durable job with backoff (bounded), the document searchable meanwhile."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sophon.documents import pipeline
from sophon.documents.vectorize import EMBED_ATTEMPTS, EMBED_JOB
from sophon.platform import queue
from sophon.settings import Settings
from tests.conftest import FakeClock
from tests.documents.document_helpers import DOCS, get_doc, run_pipeline, upload
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply

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


async def test_a_chunk_is_found_by_meaning_and_fused_with_the_lexical_list(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller, fake_server: FakeServer
) -> None:
    fake_server.script(
        "POST",
        EMBEDDINGS,
        vectors_reply([1.0, 0.0, 0.0]),  # the cat document
        vectors_reply([0.0, 1.0, 0.0]),  # the invoice document
    )
    cat = await upload(client, admin, [("cat.txt", b"A small feline sleeps on the mat.")])
    invoice = await upload(client, admin, [("bill.txt", b"Invoice 7 is due on Friday.")])
    assert await run_pipeline(app) == ["Ready", "Ready"]
    async with app.state.gateway.db.transaction(readonly=True) as db:
        assert await db.scalar(text("SELECT count(*) FROM document_embeddings")) == 2
        if app.state.gateway.db.dialect == "sqlite":  # mirrored into the sqlite-vec index
            assert await db.scalar(text("SELECT count(*) FROM document_vec_3")) == 2

    fake_server.script("POST", EMBEDDINGS, vectors_reply([0.9, 0.1, 0.0]))
    found = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "kitten"})
    body = found.json()
    assert body["mode"] == "hybrid"
    assert body["items"][0]["documentId"] == cat["items"][0]["id"]
    assert body["items"][0]["matched"] == ["vector"]

    fake_server.script("POST", EMBEDDINGS, vectors_reply([0.0, 1.0, 0.0]))
    both = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "invoice"})
    top = both.json()["items"][0]
    assert top["documentId"] == invoice["items"][0]["id"]
    assert top["matched"] == ["lexical", "vector"]
    assert top["score"] == 1.0  # first in both lists

    fake_server.script("POST", EMBEDDINGS, JsonReply({"error": {"message": "down"}}, 500))
    lexical = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "invoice"})
    assert lexical.json()["mode"] == "lexical"
    assert lexical.json()["items"][0]["documentId"] == invoice["items"][0]["id"]

    deleted = await client.delete(f"{DOCS}/{cat['items'][0]['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    async with app.state.gateway.db.transaction(readonly=True) as db:
        assert await db.scalar(text("SELECT count(*) FROM document_embeddings")) == 1
        if app.state.gateway.db.dialect == "sqlite":
            assert await db.scalar(text("SELECT count(*) FROM document_vec_3")) == 1


async def _run_due_embedding(app: FastAPI) -> list[str]:
    """Runs the due `documents.embed` jobs as a queue worker would; each one's outcome."""
    gateway = app.state.gateway
    handlers = pipeline.job_handlers(gateway.db, gateway.settings)
    outcomes = []
    for job in await queue.claim(gateway.db, "wrk_test", [EMBED_JOB], 30, limit=10):
        try:
            result = await handlers[EMBED_JOB](job)
        except Exception as error:  # noqa: BLE001 - as the worker: a failed attempt
            await queue.fail(gateway.db, job.id, "wrk_test", repr(error), retry=True)
            outcomes.append("failed")
        else:
            await queue.complete(gateway.db, job.id, "wrk_test", result)
            outcomes.append("completed")
    return outcomes


async def test_a_failed_embedding_is_retried_with_backoff_and_searchable_meanwhile(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Caller,
    fake_server: FakeServer,
    clock: FakeClock,
) -> None:
    down = JsonReply({"error": {"message": "overloaded"}}, 503)
    fake_server.script("POST", EMBEDDINGS, down)  # the pipeline's own attempt
    doc = await upload(client, admin, [("cat.txt", b"A small feline sleeps on the mat.")])
    doc_id = doc["items"][0]["id"]
    assert await run_pipeline(app) == ["Ready"]
    assert (await get_doc(client, admin, doc_id))["vectors"] == "pending"
    fake_server.script("POST", EMBEDDINGS, down)  # the query's vector: lexical search only
    found = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "feline"})
    assert found.json()["mode"] == "lexical"
    assert [h["documentId"] for h in found.json()["items"]] == [doc_id]

    assert await _run_due_embedding(app) == []  # not before its backoff
    clock.advance(seconds=queue.retry_delay(1).total_seconds())
    fake_server.script("POST", EMBEDDINGS, down)
    assert await _run_due_embedding(app) == ["failed"]
    assert (await get_doc(client, admin, doc_id))["vectors"] == "pending"
    clock.advance(seconds=queue.retry_delay(1).total_seconds() - 1)
    assert await _run_due_embedding(app) == []  # backing off again
    clock.advance(seconds=1)
    fake_server.script("POST", EMBEDDINGS, vectors_reply([1.0, 0.0, 0.0]))
    assert await _run_due_embedding(app) == ["completed"]
    assert (await get_doc(client, admin, doc_id))["vectors"] == "ready"

    fake_server.script("POST", EMBEDDINGS, vectors_reply([0.9, 0.1, 0.0]))
    by_meaning = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "kitten"})
    assert by_meaning.json()["mode"] == "hybrid"
    assert by_meaning.json()["items"][0]["documentId"] == doc_id
    assert by_meaning.json()["items"][0]["matched"] == ["vector"]


async def test_embedding_retries_are_bounded(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: Caller,
    fake_server: FakeServer,
    clock: FakeClock,
) -> None:
    down = JsonReply({"error": {"message": "gone"}}, 500)
    fake_server.script("POST", EMBEDDINGS, *[down] * (EMBED_ATTEMPTS + 1))
    doc = await upload(client, admin, [("bill.txt", b"Invoice 7 is due on Friday.")])
    doc_id = doc["items"][0]["id"]
    assert await run_pipeline(app) == ["Ready"]
    for attempt in range(1, EMBED_ATTEMPTS + 1):
        clock.advance(seconds=queue.retry_delay(attempt).total_seconds())
        assert await _run_due_embedding(app) == ["failed"], attempt
    clock.advance(seconds=600)
    assert await _run_due_embedding(app) == []  # no attempt left
    assert (await get_doc(client, admin, doc_id))["vectors"] == "failed"
    assert len(fake_server.received(EMBEDDINGS)) == EMBED_ATTEMPTS + 1
    lexical = await client.get(f"{DOCS}/search", headers=admin.headers, params={"q": "invoice"})
    assert [h["documentId"] for h in lexical.json()["items"]] == [doc_id]
