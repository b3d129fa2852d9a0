"""Hybrid search over document chunks with memory's machinery: the same query terms and
full-text engines (FTS5 bm25 on SQLite, `ts_rank_cd` on PostgreSQL; `memory.entries.fts`),
the same vector scan and embedding engine (`memory.search.vectors`), the same reciprocal-rank
fusion and snippet highlighting (`memory.search.service`). Each hit names its document, page
and character range."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit.marks import exempt
from sophon.documents import fts as document_fts
from sophon.documents.access import Reader, visible
from sophon.documents.models import Document, DocumentChunk, DocumentEmbedding
from sophon.documents.schemas import Status
from sophon.memory.entries import fts
from sophon.memory.models import table_of
from sophon.memory.search import vector_index, vectors
from sophon.memory.search.embedding import EmbeddingFailed, Engine
from sophon.memory.search.service import REGCONFIG, fuse, highlight, render_snippet

OVERFETCH = 4
VECTORS = vector_index.VecTable(document_fts.VEC_PREFIX, "document_embeddings", "chunk_id")


@dataclass
class ChunkHit:
    chunk: DocumentChunk
    document: Document
    score: float = 0.0
    matched: list[str] = field(default_factory=list)
    snippet: str = ""


def _documents(reader: Reader, document_ids: list[str] | None) -> Select[Any]:
    docs = visible(reader).where(Document.status == Status.READY.value)
    if document_ids is not None:
        docs = docs.where(Document.id.in_(document_ids))
    return docs


def _chunks(docs: Select[Any]) -> Select[Any]:
    allowed = docs.with_only_columns(Document.id).scalar_subquery()
    return select(DocumentChunk).where(DocumentChunk.document_id.in_(allowed))


async def _visible_candidates(
    db: AsyncSession, docs: Select[Any], candidates: list[int]
) -> list[str]:
    """The candidates (chunk rowids, best first) whose document the reader may see, as chunk
    ids. The chunks are looked up by rowid through the bare table (SQLite would rather scan
    every visible chunk than look up a list), their documents through the tenant-scoped query."""
    if not candidates:
        return []
    table = table_of(DocumentChunk).alias("by_rowid")
    rows = (
        await db.execute(
            select(table.c.num, table.c.id, table.c.document_id).where(table.c.num.in_(candidates))
        )
    ).all()
    by_num = {num: (chunk_id, doc_id) for num, chunk_id, doc_id in rows}
    wanted = {doc_id for _chunk, doc_id in by_num.values()}
    allowed = set(
        await db.scalars(docs.with_only_columns(Document.id).where(Document.id.in_(wanted)))
    )
    return [by_num[n][0] for n in candidates if n in by_num and by_num[n][1] in allowed]


async def _lexical(db: AsyncSession, docs: Select[Any], words: list[str], limit: int) -> list[str]:
    if not words:
        return []
    base = _chunks(docs)
    if db.get_bind().dialect.name == "sqlite":
        match = fts.fts5_match(words)
        ranked = await db.scalars(
            text(
                f"SELECT rowid FROM {document_fts.PREFIX} WHERE {document_fts.PREFIX} MATCH :m "  # noqa: S608
                f"ORDER BY bm25({document_fts.PREFIX}) LIMIT :n"
            ).bindparams(m=match, n=limit * OVERFETCH)
        )
        candidates = list(ranked.all())
        order = (await _visible_candidates(db, docs, candidates))[:limit]
        if len(order) < limit and len(candidates) == limit * OVERFETCH:  # crowded: rank joined
            rank = func.bm25(literal_column(document_fts.PREFIX)).label("rank")
            joined = await db.execute(
                base.with_only_columns(DocumentChunk.id, rank)
                .join(document_fts.fts_table, document_fts.fts_table.c.rowid == DocumentChunk.num)
                .where(text(f"{document_fts.PREFIX} MATCH :m").bindparams(m=match))
                .order_by(rank)
                .limit(limit)
            )
            order = [chunk_id for chunk_id, _rank in joined.all()]
        return order
    query = func.to_tsquery(REGCONFIG, fts.tsquery(words))
    vector = func.to_tsvector(REGCONFIG, DocumentChunk.content)
    stmt = (
        base.with_only_columns(DocumentChunk.id)
        .where(vector.op("@@")(query))
        .order_by(func.ts_rank_cd(vector, query).desc(), DocumentChunk.id)
        .limit(limit)
    )
    return list((await db.scalars(stmt)).all())


async def _visible_ids(db: AsyncSession, docs: Select[Any], chunk_ids: list[str]) -> list[str]:
    """The chunk ids (in their order) whose document the reader may see."""
    if not chunk_ids:
        return []
    table = table_of(DocumentChunk).alias("by_key")
    rows = (
        await db.execute(select(table.c.id, table.c.document_id).where(table.c.id.in_(chunk_ids)))
    ).all()
    owner = {str(chunk_id): str(doc_id) for chunk_id, doc_id in rows}
    allowed = set(
        await db.scalars(
            docs.with_only_columns(Document.id).where(Document.id.in_(set(owner.values())))
        )
    )
    return [c for c in chunk_ids if owner.get(c) in allowed]


async def _nearest(
    db: AsyncSession, reader: Reader, docs: Select[Any], engine: Engine, query: str, k: int
) -> list[str] | None:
    """Nearest chunks: through the sqlite-vec index (asked for more than `k`, filtered by
    visibility, asked again while too few survive, as memory's), else an exact scan."""
    try:
        (vector,) = await engine.embed([query])
    except EmbeddingFailed:
        return None
    if vector_index.usable(db):
        packed, dims = vectors.pack(vector), len(vector)
        ask = max(vector_index.K_START, k * vector_index.OVERFETCH)
        while True:
            found = await vector_index.knn(
                db, VECTORS, reader.tenant_id, engine.model, packed, dims, ask
            )
            if found is None:
                break
            kept = await _visible_ids(db, docs, found)
            if len(kept) >= k or len(found) < min(ask, vector_index.K_MAX):
                return kept[:k]
            if ask >= vector_index.K_MAX:
                break
            ask *= 4
    ids = _chunks(docs).with_only_columns(DocumentChunk.id).scalar_subquery()
    rows = select(DocumentEmbedding.chunk_id, DocumentEmbedding.vector).where(
        DocumentEmbedding.model == engine.model, DocumentEmbedding.chunk_id.in_(ids)
    )
    return await vectors.nearest_rows(db, rows, vector, k)


@exempt("a search reads only")
async def search(
    db: AsyncSession,
    reader: Reader,
    query: str,
    limit: int,
    engine: Engine | None = None,
    document_ids: list[str] | None = None,
) -> tuple[list[ChunkHit], str]:
    """Chunks best first and the mode (`lexical` or `hybrid`)."""
    docs = _documents(reader, document_ids)
    pool = max(limit * 3, 30) if engine is not None else limit
    words = fts.terms(query)
    ranked = [await _lexical(db, docs, words, pool)]
    matched = {i: ["lexical"] for i in ranked[0]}
    mode = "lexical"
    if engine is not None:
        near = await _nearest(db, reader, docs, engine, query, pool)
        if near is not None:
            mode = "hybrid"
            ranked.append(near)
            for i in near:
                matched.setdefault(i, []).append("vector")
    scores = fuse(ranked)
    best = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
    if not best:
        return [], mode
    # by rowid (see `_visible_candidates`), then their documents through the scoped query
    table = table_of(DocumentChunk).alias("by_id")
    nums = select(table.c.num).where(table.c.id.in_(best)).scalar_subquery()
    chunks = list(await db.scalars(select(DocumentChunk).where(DocumentChunk.num.in_(nums))))
    owners = {c.document_id for c in chunks}
    found = {d.id: d for d in await db.scalars(docs.where(Document.id.in_(owners)))}
    loaded = {c.id: (c, found[c.document_id]) for c in chunks if c.document_id in found}
    hits = []
    for chunk_id in best:
        if chunk_id not in loaded:
            continue
        chunk, document = loaded[chunk_id]
        hit = ChunkHit(chunk, document, scores[chunk_id], matched[chunk_id])
        hit.snippet = (
            render_snippet(highlight(chunk.content, words))
            if "lexical" in hit.matched
            else html.escape(" ".join(chunk.content.split()[:24]))
        )
        hits.append(hit)
    return hits, mode
