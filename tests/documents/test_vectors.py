"""Document chunks in hybrid search, with memory's embedding engine against a loopback
OpenAI-compatible `/embeddings` server: chunks embedded by the pipeline, a chunk found by meaning
alone, the lexical list fused in, and lexical search when the service is down."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from sophon.settings import Settings
from tests.documents.document_helpers import DOCS, run_pipeline, upload
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
