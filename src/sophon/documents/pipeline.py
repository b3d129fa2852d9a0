"""The ingestion pipeline, one durable job per document: `Uploaded → Extracting → Indexing →
Ready | Failed`. Extraction runs in the sandboxed child (`isolation`) outside any transaction;
pages and chunks are written in one transaction (the full-text index follows by trigger);
vectors are added when an embedding service is configured (retried apart: `vectorize`).
`DocumentReady` / `DocumentFailed` go to the owner after commit; chat turns held for the
document run then (`service.wake_turns`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.documents import isolation, vectorize
from sophon.documents import service as documents
from sophon.documents.chunking import chunk_pages, page_starts
from sophon.documents.models import (
    Document,
    DocumentChunk,
    DocumentPage,
)
from sophon.documents.schemas import Status
from sophon.documents.service import INGEST_JOB
from sophon.documents.storage import Storage
from sophon.memory.search import vectors
from sophon.memory.search.embedding import Engine
from sophon.platform.clock import iso, utcnow
from sophon.platform.db import Database
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.ids import new_id
from sophon.platform.permissions import Permission
from sophon.platform.queue import ClaimedJob
from sophon.platform.queue_worker import Handler
from sophon.settings import Settings

DOCUMENT_READY = "DocumentReady"
DOCUMENT_FAILED = "DocumentFailed"


def limits_of(settings: Settings) -> isolation.ChildLimits:
    return isolation.ChildLimits(
        wall_seconds=settings.documents_extract_seconds,
        cpu_seconds=settings.documents_extract_cpu_seconds,
        memory_bytes=settings.documents_extract_memory_mb * 1024 * 1024,
        max_pages=settings.documents_max_pages,
        max_chars=settings.documents_max_chars,
        max_unzipped_bytes=settings.documents_max_unzipped_bytes,
    )


def _event(document: Document, name: str) -> Event:
    payload = {
        "documentId": document.id,
        "name": document.name,
        "status": document.status,
        "errorCode": document.error_code,
        "error": document.error,
        "pages": document.pages,
        "at": iso(utcnow()),
    }
    owners = frozenset({document.created_by}) if document.created_by else frozenset()
    audience = (
        Audience(user_ids=owners)
        if owners
        else Audience(permission=Permission.MANAGE_DOCUMENTS.value)
    )
    return Event(name, payload, document.tenant_id, audience)


async def _set_status(db: AsyncSession, document: Document, status: Status) -> None:
    document.status = status.value
    document.updated_at = utcnow()
    await db.flush()


async def _fail(db: AsyncSession, document: Document, code: str, message: str) -> None:
    document.status = Status.FAILED.value
    document.error_code = code
    document.error = message
    document.updated_at = utcnow()
    await db.flush()
    await documents.wake_turns(db, document.id)
    after_commit(db, _event(document, DOCUMENT_FAILED))


async def _index(
    db: AsyncSession, document: Document, answer: dict[str, Any], settings: Settings
) -> list[DocumentChunk]:
    pages = [str(p) for p in answer["pages"]]
    await db.execute(delete(DocumentChunk).where(DocumentChunk.document_id == document.id))
    await db.execute(delete(DocumentPage).where(DocumentPage.document_id == document.id))
    db.add_all(
        DocumentPage(document_id=document.id, number=n, start=s, text=t)
        for n, (t, s) in enumerate(zip(pages, page_starts(pages), strict=True), 1)
    )
    chunks = [
        DocumentChunk(
            id=new_id("chk"),
            document_id=document.id,
            seq=c.seq,
            page=c.page,
            start=c.start,
            end=c.end,
            heading=c.heading,
            content=c.content,
        )
        for c in chunk_pages(
            pages, settings.documents_chunk_chars, settings.documents_chunk_overlap
        )
    ]
    db.add_all(chunks)
    document.pages = len(pages)
    document.chars = sum(len(p) for p in pages) + 2 * max(len(pages) - 1, 0)
    document.language = answer.get("language")
    document.notes = [str(n) for n in answer.get("notes", [])]
    document.status = Status.INDEXING.value
    document.updated_at = utcnow()
    await db.flush()
    return chunks


async def ingest(
    database: Database,
    storage: Storage,
    settings: Settings,
    tenant_id: str,
    document_id: str,
    embedder: Callable[[], Engine | None] = lambda: None,
) -> str:
    """Runs the pipeline for one document; its final status."""
    async with database.transaction(tenant_id=tenant_id) as db:
        document = await db.get(Document, document_id)
        if document is None:
            return "gone"
        if document.status in (Status.READY.value, Status.FAILED.value):
            return document.status
        await _set_status(db, document, Status.EXTRACTING)
        fmt, sha = document.format, document.sha256
    path = storage.path(tenant_id, sha)
    if not path.exists():
        answer: dict[str, Any] = {
            "ok": False,
            "code": "unsupported_type",
            "message": "The stored file is missing.",
        }
    else:
        answer = await isolation.extract_file(path, fmt, limits_of(settings))
    async with database.transaction(tenant_id=tenant_id) as db:
        document = await db.get(Document, document_id)
        if document is None:
            return "gone"
        if not answer.get("ok"):
            await _fail(db, document, str(answer.get("code")), str(answer.get("message")))
            return document.status
        chunks = await _index(db, document, answer, settings)
        chunk_ids = [c.id for c in chunks]
    state = await vectorize.first_try(database, tenant_id, embedder(), chunk_ids)
    async with database.transaction(tenant_id=tenant_id) as db:
        document = await db.get(Document, document_id)
        if document is None:
            return "gone"
        document.vectors = state.value if state else None
        if state is vectorize.Vectors.PENDING:
            vectorize.retry_later(db, document.id)
        await _set_status(db, document, Status.READY)
        await documents.wake_turns(db, document.id)
        after_commit(db, _event(document, DOCUMENT_READY))
        return document.status


async def give_up(database: Database, tenant_id: str, document_id: str, reason: str) -> None:
    """Ends a document whose pipeline crashed on its last attempt as Failed."""
    async with database.transaction(tenant_id=tenant_id) as db:
        document = await db.get(Document, document_id)
        if document is not None and document.status not in (
            Status.READY.value,
            Status.FAILED.value,
        ):
            await _fail(db, document, "extraction_failed", f"The pipeline failed: {reason[:300]}")


def job_handlers(database: Database, settings: Settings) -> dict[str, Handler]:
    storage = Storage(settings.data)

    async def run(job: ClaimedJob) -> dict[str, Any] | None:
        document_id = str(job.payload["documentId"])
        try:
            status = await ingest(
                database,
                storage,
                settings,
                job.tenant_id,
                document_id,
                lambda: vectors.embedder(settings),
            )
        except Exception as error:
            if job.attempts >= job.max_attempts:  # no retry left: the document must not hang
                await give_up(database, job.tenant_id, document_id, repr(error))
            raise
        return {"status": status}

    return {INGEST_JOB: run, **vectorize.job_handlers(database, lambda: vectors.embedder(settings))}
