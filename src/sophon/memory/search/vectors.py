"""Semantic memory search through an OpenAI-compatible `/embeddings` API (Ollama, OpenAI, …) or
a local model (`local_embeddings`). Entries are embedded by a job, off the request path; the query
is embedded at search time. Vectors are kept as blobs in `memory_embeddings`; on SQLite with
sqlite-vec (see `platform.sqlite_driver`) triggers mirror them into a `vec0` index per dimension
count, searched nearest-first inside SQLite; elsewhere (PostgreSQL: no pgvector here) an exact
cosine scan runs in a worker thread. When the embedding service is down, search stays lexical
rather than failing."""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import logging
import math
import operator
from array import array
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory.models import MemoryEmbedding, MemoryEntry
from sophon.memory.search import local_embeddings, vector_index
from sophon.memory.search.embedding import EmbeddingFailed, Engine
from sophon.platform import queue
from sophon.platform.http import outbound_client, split_allow_setting
from sophon.platform.netguard import OutboundRefused
from sophon.platform.tenancy import session_tenant
from sophon.settings import Settings

log = logging.getLogger(__name__)

EMBED_JOB = "memory.embed"
QUEUED_KEY = "memory.embed.queued"
BATCH = 64
SCAN_CHUNK = 5_000  # vectors an exact scan reads and scores at a time (memory stays bounded)
TIMEOUT = 30.0


VectorSearch = Callable[[AsyncSession, Select[Any], str, int], Awaitable[list[str] | None]]
"""(db, the visible entries select, query, how many) → entry ids, nearest first; None when the
embedding service could not be asked (search stays lexical)."""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pack(vector: Sequence[float]) -> bytes:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return array("f", (x / norm for x in vector)).tobytes()


def unpack(raw: bytes) -> array[float]:
    values = array("f")
    values.frombytes(raw)
    return values


@dataclass(frozen=True)
class Embedder:
    """An OpenAI-compatible `/embeddings` endpoint."""

    url: str
    model: str
    key: str | None
    allow: tuple[str, ...]
    allow_loopback: bool

    async def embed(self, texts: list[str]) -> list[list[float]]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            async with outbound_client(
                allow=self.allow,
                allow_loopback=self.allow_loopback,
                timeout=TIMEOUT,
                headers=headers,
            ) as http:
                response = await http.post(
                    self.url.rstrip("/") + "/embeddings", json={"model": self.model, "input": texts}
                )
                response.raise_for_status()
                body: Any = response.json()
        except (httpx.HTTPError, OutboundRefused, ValueError) as error:
            raise EmbeddingFailed(str(error)) from error
        try:
            rows = sorted(body["data"], key=lambda d: d.get("index", 0))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError) as error:
            raise EmbeddingFailed(f"unexpected /embeddings answer: {error}") from error
        if len(vectors) != len(texts):
            raise EmbeddingFailed("the /embeddings answer has the wrong number of vectors")
        return vectors


def enabled(settings: Settings) -> bool:
    return settings.memory_embedding_local or bool(settings.memory_embedding_url)


def embedder(settings: Settings) -> Engine | None:
    if settings.memory_embedding_local:
        return local_embeddings.engine()
    if not settings.memory_embedding_url:
        return None
    key = settings.memory_embedding_key
    return Embedder(
        url=settings.memory_embedding_url,
        model=settings.memory_embedding_model,
        key=key.get_secret_value() if key else None,
        allow=split_allow_setting(settings.outbound_allow),
        allow_loopback=settings.allow_local_model_servers,
    )


async def request_embedding(db: AsyncSession) -> None:
    """Makes sure an embedding pass runs after this transaction (one queued at a time)."""
    if db.info.get(QUEUED_KEY):
        return
    if not await queue.is_queued(db, EMBED_JOB):
        queue.enqueue(db, EMBED_JOB, {}, serial_key=EMBED_JOB)
    db.info[QUEUED_KEY] = True


async def embed_pending(db: AsyncSession, engine: Engine) -> int:
    """Embeds up to `BATCH` entries without a current vector; how many it did."""
    current = (
        select(MemoryEmbedding.entry_id)
        .where(MemoryEmbedding.model == engine.model)
        .scalar_subquery()
    )
    stale = select(MemoryEntry).where(MemoryEntry.id.not_in(current)).order_by(MemoryEntry.num)
    todo = list((await db.scalars(stale.limit(BATCH))).all())
    if not todo:
        return 0
    vectors = await engine.embed([e.content for e in todo])
    ids = [e.id for e in todo]
    await db.execute(delete(MemoryEmbedding).where(MemoryEmbedding.entry_id.in_(ids)))
    if vector_index.usable(db):
        for dims in {len(v) for v in vectors}:
            await vector_index.ensure(db, dims)
    db.add_all(
        MemoryEmbedding(
            entry_id=e.id,
            model=engine.model,
            dims=len(v),
            vector=pack(v),
            content_sha=sha(e.content),
        )
        for e, v in zip(todo, vectors, strict=True)
    )
    await db.flush()
    return len(todo)


async def forget_vector(db: AsyncSession, entry_id: str) -> None:
    """A changed entry's old vector no longer describes it: drop it (re-embedded by the job)."""
    await db.execute(delete(MemoryEmbedding).where(MemoryEmbedding.entry_id == entry_id))


Scored = list[tuple[float, str]]


def _best(q: array[float], rows: Sequence[tuple[str, bytes]], kept: Scored, k: int) -> Scored:
    """The `k` best of `kept` and these rows by dot product (vectors are unit length)."""
    scored = ((sum(map(operator.mul, q, unpack(bytes(raw)))), str(i)) for i, raw in rows)
    return heapq.nlargest(k, itertools.chain(kept, scored))


async def exact_nearest(
    db: AsyncSession, visible: Select[Any], model: str, query: list[float], k: int
) -> list[str]:
    """Every visible stored vector compared with the query, a chunk at a time in a thread."""
    return await nearest_rows(
        db,
        select(MemoryEmbedding.entry_id, MemoryEmbedding.vector).where(
            MemoryEmbedding.model == model,
            MemoryEmbedding.entry_id.in_(visible.scalar_subquery()),
        ),
        query,
        k,
    )


async def nearest_rows(
    db: AsyncSession, rows_select: Select[str, bytes], query: list[float], k: int
) -> list[str]:
    """The ids of the `k` rows of `(id, packed vector)` nearest the query, nearest first, read
    a chunk at a time and scored in a thread (memory entries and document chunks use it)."""
    q = unpack(pack(query))
    rows = await db.stream(rows_select.execution_options(yield_per=SCAN_CHUNK))
    kept: Scored = []
    async for part in rows.partitions(SCAN_CHUNK):
        kept = await asyncio.to_thread(_best, q, [(i, v) for i, v in part], kept, k)
    return [found_id for _score, found_id in kept]


def vector_search(settings: Settings) -> VectorSearch | None:
    """The vector list for `search.search`, or None when no embedding API is configured."""
    engine = embedder(settings)
    return None if engine is None else searcher(engine)


def searcher(engine: Engine) -> VectorSearch:
    """The vector list for `search.search` through this engine."""

    async def nearest(db: AsyncSession, base: Select[Any], query: str, k: int) -> list[str] | None:
        try:
            (vector,) = await engine.embed([query])
        except EmbeddingFailed as error:
            log.warning("memory embeddings unavailable", extra={"error": str(error)})
            return None
        if vector_index.usable(db):
            tenant = session_tenant(db.sync_session)
            if tenant is not None:
                packed = pack(vector)
                found_ids = await vector_index.nearest(
                    db, base, tenant, engine.model, packed, len(vector), k
                )
                if found_ids is not None:
                    return found_ids
        visible = base.with_only_columns(MemoryEntry.id)
        return await exact_nearest(db, visible, engine.model, vector, k)

    return nearest
