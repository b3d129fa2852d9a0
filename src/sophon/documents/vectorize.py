"""Vectors for a document's chunks, apart from its pipeline: a document is Ready (searchable by
its words) once its chunks are indexed, and its vectors follow. The pipeline embeds at once; when
the embedding service fails, a durable job (`documents.embed`) retries the chunks still without
a vector, with the queue's exponential backoff, `EMBED_ATTEMPTS` times at most.
`Document.vectors` says where they are: None (no embedding service when it was indexed),
`pending` (being retried), `ready`, or `failed` (given up: search stays lexical for it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.documents import search as searching
from sophon.documents.models import Document, DocumentChunk, DocumentEmbedding
from sophon.memory.search import vector_index, vectors
from sophon.memory.search.embedding import EmbeddingFailed, Engine
from sophon.platform import queue
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.queue import ClaimedJob
from sophon.platform.queue_worker import Handler

log = logging.getLogger(__name__)

EMBED_JOB = "documents.embed"
EMBED_ATTEMPTS = 8
"""With the queue's backoff (2 s, doubling) the last attempt comes about four minutes after the
first failure."""
EMBED_BATCH = 64


class Vectors(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


async def embed_chunks(database: Database, tenant_id: str, engine: Engine, ids: list[str]) -> None:
    """Vectors for these chunks, a batch at a time (the model is asked outside transactions).
    Raises `EmbeddingFailed`; the batches stored before stay."""
    for at in range(0, len(ids), EMBED_BATCH):
        batch = ids[at : at + EMBED_BATCH]
        async with database.transaction(readonly=True, tenant_id=tenant_id) as db:
            rows = (
                await db.execute(
                    select(DocumentChunk.id, DocumentChunk.content).where(
                        DocumentChunk.id.in_(batch)
                    )
                )
            ).all()
        if not rows:  # erased meanwhile
            continue
        found = await engine.embed([content for _id, content in rows])
        async with database.transaction(tenant_id=tenant_id) as db:
            if vector_index.usable(db):
                for dims in {len(v) for v in found}:
                    await vector_index.ensure(db, dims, searching.VECTORS)
            db.add_all(
                DocumentEmbedding(
                    chunk_id=chunk_id, model=engine.model, dims=len(v), vector=vectors.pack(v)
                )
                for (chunk_id, _content), v in zip(rows, found, strict=True)
            )


async def first_try(
    database: Database, tenant_id: str, engine: Engine | None, ids: list[str]
) -> Vectors | None:
    """The pipeline's attempt: the state its document's vectors are in afterwards."""
    if engine is None:
        return None
    try:
        await embed_chunks(database, tenant_id, engine, ids)
    except EmbeddingFailed as error:  # searchable by its words meanwhile; retried by a job
        log.warning("document embeddings unavailable, retrying later", extra={"error": str(error)})
        return Vectors.PENDING
    return Vectors.READY


def retry_later(db: AsyncSession, document_id: str) -> None:
    """Queues the retries, in the caller's transaction (the one that records `pending`)."""
    queue.enqueue(
        db,
        EMBED_JOB,
        {"documentId": document_id},
        run_after=utcnow() + queue.retry_delay(1),
        max_attempts=EMBED_ATTEMPTS,
    )


async def _missing(db: AsyncSession, document_id: str) -> list[str]:
    """The document's chunks without a vector."""
    done = select(DocumentEmbedding.chunk_id)
    rows = await db.scalars(
        select(DocumentChunk.id)
        .where(DocumentChunk.document_id == document_id, DocumentChunk.id.not_in(done))
        .order_by(DocumentChunk.seq)
    )
    return list(rows.all())


async def _settle(
    database: Database, tenant_id: str, document_id: str, state: Vectors | None
) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        document = await db.get(Document, document_id)
        if document is not None:
            document.vectors = state.value if state else None
            document.updated_at = utcnow()


def job_handlers(database: Database, embedder: Callable[[], Engine | None]) -> dict[str, Handler]:
    async def run(job: ClaimedJob) -> dict[str, Any] | None:
        document_id = str(job.payload["documentId"])
        async with database.transaction(readonly=True, tenant_id=job.tenant_id) as db:
            document = await db.get(Document, document_id)
            if document is None or document.vectors != Vectors.PENDING.value:
                return {"vectors": "unchanged"}
            ids = await _missing(db, document_id)
        engine = embedder()
        if engine is None:  # the service was removed meanwhile: nothing to wait for
            await _settle(database, job.tenant_id, document_id, None)
            return {"vectors": None}
        try:
            await embed_chunks(database, job.tenant_id, engine, ids)
        except EmbeddingFailed:
            if job.attempts >= job.max_attempts:
                await _settle(database, job.tenant_id, document_id, Vectors.FAILED)
            raise  # the queue retries it after its backoff while attempts remain
        await _settle(database, job.tenant_id, document_id, Vectors.READY)
        return {"vectors": Vectors.READY.value, "embedded": len(ids)}

    return {EMBED_JOB: run}
