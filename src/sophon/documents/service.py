"""Documents: upload (type check, dedupe by content hash, storage, the pipeline job), listing,
reading (metadata and paged text), chat attachments and erasure. HTTP-free; callers own the
transaction; every change is audited."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import Select, Text, cast, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.documents import formats
from sophon.documents.access import Reader, visible
from sophon.documents.chunking import full_text
from sophon.documents.models import (
    Document,
    DocumentAttachment,
    DocumentChunk,
    DocumentPage,
    DocumentResult,
)
from sophon.documents.schemas import Status, TextPage, Visibility
from sophon.documents.storage import Staged, Storage
from sophon.platform import queue
from sophon.platform.clock import utcnow
from sophon.platform.errors import NotAuthorized, NotFound, UnsupportedMediaType, ValidationFailed
from sophon.platform.ids import new_id
from sophon.tasks.models import Task, TaskStatus

INGEST_JOB = "documents.ingest"
PROCESSING = frozenset({Status.UPLOADED.value, Status.EXTRACTING.value, Status.INDEXING.value})
MAX_FILES = 20
TEXT_PAGE = 100_000
_TAG = re.compile(r"^[\w.:-]{1,50}$")


@dataclass(frozen=True)
class Incoming:
    name: str
    content_type: str | None
    file: IO[bytes]


@dataclass(frozen=True)
class UploadOptions:
    tags: list[str]
    agent_id: str | None = None
    collection: str | None = None
    visibility: str = Visibility.PRIVATE.value
    duplicate: bool = False


@dataclass(frozen=True)
class Uploaded:
    document: Document
    duplicate: bool


@dataclass(frozen=True)
class DocumentFilter:
    status: str | None = None
    format: str | None = None
    tag: str | None = None
    collection: str | None = None
    agent_id: str | None = None
    name: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def parse_tags(raw: str | None) -> list[str]:
    """Comma- or space-separated tags, lower-cased; a malformed one is a 422 naming it."""
    tags = [t.strip().lower() for t in re.split(r"[,\s]+", raw or "") if t.strip()]
    bad = [t for t in tags if not _TAG.match(t)]
    if bad or len(tags) > 32:
        raise ValidationFailed(
            "Tags are up to 32 words of letters, digits and . : - _",
            {
                "fields": [
                    {"field": "body.tags", "message": f"invalid: {', '.join(bad) or 'too many'}"}
                ]
            },
        )
    return list(dict.fromkeys(tags))


def _clean_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:255] or "document"


@audited("document.upload")
async def upload(
    db: AsyncSession,
    reader: Reader,
    storage: Storage,
    files: Sequence[Incoming],
    options: UploadOptions,
) -> list[Uploaded]:
    """Stores each file and queues its pipeline; all or nothing: an unsupported file refuses
    the whole upload with 415 naming its detected type, and no file is kept."""
    if not files:
        raise ValidationFailed.on("body.files", "Send at least one file.", "missing")
    if len(files) > MAX_FILES:
        raise ValidationFailed.on(
            "body.files", f"At most {MAX_FILES} files per upload.", "too many"
        )
    if options.agent_id is not None and await agents.get_any(db, options.agent_id) is None:
        raise ValidationFailed.on("body.agentId", "No such agent in this tenant.", "no such agent")
    staged: list[tuple[Incoming, Staged, formats.Detected]] = []
    try:
        for incoming in files:
            copy = await asyncio.to_thread(storage.stage, incoming.file)
            staged.append((incoming, copy, formats.detect(incoming.name, copy.head)))
        for incoming, _copy, detected in staged:
            if detected.format is None:
                raise UnsupportedMediaType(
                    f"{_clean_name(incoming.name)}: {detected.reason}.",
                    {
                        "name": _clean_name(incoming.name),
                        "detectedType": detected.mime_type,
                        "declaredType": incoming.content_type,
                    },
                )
        return [await _store(db, reader, storage, *item, options) for item in staged]
    finally:
        for _incoming, copy, _detected in staged:
            storage.discard(copy)  # kept files were moved away already


async def _store(
    db: AsyncSession,
    reader: Reader,
    storage: Storage,
    incoming: Incoming,
    copy: Staged,
    detected: formats.Detected,
    options: UploadOptions,
) -> Uploaded:
    if not options.duplicate:
        same = await db.scalar(
            visible(reader).where(Document.sha256 == copy.sha256).order_by(Document.id).limit(1)
        )
        if same is not None:
            return Uploaded(same, duplicate=True)
    assert detected.format is not None
    await asyncio.to_thread(storage.keep, copy, reader.tenant_id)
    now = utcnow()
    document = Document(
        id=new_id("doc"),
        name=_clean_name(incoming.name),
        mime_type=detected.mime_type,
        format=detected.format.value,
        size=copy.size,
        sha256=copy.sha256,
        status=Status.UPLOADED.value,
        notes=[],
        tags=list(options.tags),
        collection=options.collection,
        agent_id=options.agent_id,
        visibility=options.visibility,
        created_by=reader.user_id,
        created_at=now,
        updated_at=now,
    )
    db.add(document)
    await db.flush()
    queue.enqueue(db, INGEST_JOB, {"documentId": document.id}, max_attempts=2)
    await audit.record(
        db,
        reader.audit_actor(),
        "document.upload",
        ("document", document.id),
        details={"name": document.name, "size": copy.size, "sha256": copy.sha256},
    )
    return Uploaded(document, duplicate=False)


def listing(reader: Reader, where: DocumentFilter) -> Select[Document]:
    stmt = visible(reader)
    if where.status:
        stmt = stmt.where(Document.status == where.status)
    if where.format:
        stmt = stmt.where(Document.format == where.format)
    if where.tag:
        stmt = stmt.where(cast(Document.tags, Text).like(f'%"{where.tag.lower()}"%'))
    if where.collection:
        stmt = stmt.where(Document.collection == where.collection)
    if where.agent_id:
        stmt = stmt.where(Document.agent_id == where.agent_id)
    if where.name:
        escaped = where.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Document.name.ilike(f"%{escaped}%", escape="\\"))
    if where.created_after:
        stmt = stmt.where(Document.created_at >= where.created_after)
    if where.created_before:
        stmt = stmt.where(Document.created_at < where.created_before)
    return stmt


async def get(db: AsyncSession, reader: Reader, document_id: str) -> Document:
    document = await db.scalar(visible(reader).where(Document.id == document_id))
    if document is None:
        raise NotFound("No such document.", {"documentId": document_id})
    return document


async def get_many(
    db: AsyncSession, reader: Reader, ids: Sequence[str], *, lock: bool = False
) -> list[Document]:
    """The documents named, in the order named; any one missing is a 404 naming it. `lock`:
    their rows are locked until the transaction ends (PostgreSQL)."""
    stmt = visible(reader).where(Document.id.in_(ids))
    found = {d.id: d for d in await db.scalars(stmt.with_for_update() if lock else stmt)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("No such document.", {"documentIds": missing})
    return [found[i] for i in dict.fromkeys(ids)]


async def text_of(db: AsyncSession, document_id: str) -> list[str]:
    rows = await db.scalars(
        select(DocumentPage.text)
        .where(DocumentPage.document_id == document_id)
        .order_by(DocumentPage.number)
    )
    return list(rows.all())


async def text_page(
    db: AsyncSession, document: Document, offset: int, limit: int
) -> TextPage | None:
    """A slice of the document's text, or None while it has none."""
    if document.chars is None:
        return None
    text = full_text(await text_of(db, document.id))
    content = text[offset : offset + limit]
    return TextPage(
        offset=offset,
        limit=limit,
        total=len(text),
        has_more=offset + len(content) < len(text),
        content=content,
    )


async def page_text(db: AsyncSession, document_id: str, number: int) -> DocumentPage | None:
    return await db.scalar(
        select(DocumentPage).where(
            DocumentPage.document_id == document_id, DocumentPage.number == number
        )
    )


@audited("document.delete")
async def erase(db: AsyncSession, reader: Reader, storage: Storage, document_id: str) -> None:
    """Erases the document everywhere: chunks (and so their full-text rows and vectors),
    text, cached results of its content, attachments and, unless another document of the
    tenant has the same bytes, the file."""
    document = await get(db, reader, document_id)
    if not reader.manage and document.created_by != reader.user_id:
        raise NotAuthorized(
            "Only the owner (or ManageDocuments) deletes a document.",
            {"permission": "ManageDocuments"},
        )
    await db.execute(delete(DocumentChunk).where(DocumentChunk.document_id == document.id))
    await db.execute(delete(DocumentPage).where(DocumentPage.document_id == document.id))
    await wake_turns(db, document.id)  # a turn waiting for it waits no more
    await db.execute(
        delete(DocumentAttachment).where(DocumentAttachment.document_id == document.id)
    )
    others = await db.scalar(
        select(func.count())
        .select_from(Document)
        .where(Document.sha256 == document.sha256, Document.id != document.id)
    )
    if not others:
        await db.execute(
            delete(DocumentResult).where(DocumentResult.sha256.contains(document.sha256))
        )
    await db.delete(document)
    await audit.record(
        db,
        reader.audit_actor(),
        "document.delete",
        ("document", document.id),
        details={"name": document.name, "sha256": document.sha256},
    )
    await db.flush()
    if not others:
        await asyncio.to_thread(storage.erase, reader.tenant_id, document.sha256)


async def for_turn(db: AsyncSession, reader: Reader, document_ids: Sequence[str]) -> list[Document]:
    """The documents a chat turn is given (404 naming any the reader may not see). Their rows
    stay locked until the chat's transaction ends: a pipeline finishing one of them meanwhile
    either finished before (the turn sees it final) or sees the attachment (`wake_turns`)."""
    return await get_many(db, reader, document_ids, lock=True)


def still_processing(found: Sequence[Document]) -> bool:
    """Whether any of these documents is still in its pipeline (neither Ready nor Failed)."""
    return any(d.status in PROCESSING for d in found)


async def wake_turns(db: AsyncSession, document_id: str) -> None:
    """The chat turns held for this document (now Ready or Failed, flushed; or being erased) run
    now when none of their other documents is still in its pipeline: their queued job is brought
    forward. The turns' rows are locked first, so of two documents of one turn finishing at once
    the later sees the earlier's end."""
    held = select(DocumentAttachment.task_id).where(DocumentAttachment.document_id == document_id)
    turns = list(
        await db.scalars(
            select(Task)
            .where(Task.id.in_(held), Task.status == TaskStatus.QUEUED.value)
            .order_by(Task.id)
            .with_for_update()
        )
    )
    if not turns:
        return
    waiting = set(
        await db.scalars(
            select(DocumentAttachment.task_id)
            .join(Document, Document.id == DocumentAttachment.document_id)
            .where(
                DocumentAttachment.task_id.in_([t.id for t in turns]),
                Document.id != document_id,
                Document.status.in_(PROCESSING),
            )
        )
    )
    now = utcnow()
    for turn in turns:
        if turn.job_id and turn.id not in waiting:
            await queue.bring_forward(db, turn.job_id, now)


@exempt("records which documents a turn was given, inside the chat request's transaction")
def attach_to_turn(db: AsyncSession, task_id: str, found: Sequence[Document]) -> None:
    db.add_all(DocumentAttachment(task_id=task_id, document_id=d.id) for d in found)


async def attached(db: AsyncSession, task_id: str) -> list[Document]:
    rows = await db.scalars(
        select(Document)
        .join(DocumentAttachment, DocumentAttachment.document_id == Document.id)
        .where(DocumentAttachment.task_id == task_id)
        .order_by(Document.id)
    )
    return list(rows.all())
