"""Rows to wire models."""

from __future__ import annotations

from sophon.documents.models import Document
from sophon.documents.schemas import DocumentOut, SearchHitOut
from sophon.documents.search import ChunkHit


def document_out(document: Document) -> DocumentOut:
    return DocumentOut.model_validate(document)


def hit_out(hit: ChunkHit) -> SearchHitOut:
    c = hit.chunk
    return SearchHitOut(
        chunk_id=c.id,
        document_id=c.document_id,
        document_name=hit.document.name,
        page=c.page,
        start=c.start,
        end=c.end,
        heading=c.heading,
        score=hit.score,
        snippet=hit.snippet,
        matched=hit.matched,
    )
