"""`/api/documents`: upload, list, read (metadata, paged text, the original bytes), search,
model work with citations (summarize, extract, compare, ask) and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import File, Form, Query, Response, UploadFile, status
from fastapi.responses import FileResponse

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.documents import analysis
from sophon.documents import search as searching
from sophon.documents import service as documents
from sophon.documents.access import Reader
from sophon.documents.models import Document
from sophon.documents.schemas import (
    AskIn,
    AskOut,
    CompareIn,
    CompareOut,
    DocumentDetail,
    DocumentOut,
    ExtractIn,
    ExtractOut,
    SearchOut,
    Status,
    SummarizeIn,
    SummaryOut,
    UploadAccepted,
    UploadedItem,
    Visibility,
)
from sophon.documents.storage import Storage
from sophon.documents.views import document_out, hit_out
from sophon.gateway import Gateway
from sophon.identity.guard import PrincipalDep, requires_any
from sophon.memory.search import vectors
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses

router = api_router("/documents", tags=["Documents"])
ONE = error_responses(404)
# members use documents (their own, and those shared with the tenant); ManageDocuments: all
use_documents = requires_any(P.USE_CHAT, P.MANAGE_DOCUMENTS)
expensive = requires_any(P.USE_CHAT, P.MANAGE_DOCUMENTS, rate="expensive")


def _parts(gateway: Gateway) -> analysis.Parts:
    return analysis.Parts(gateway.vault, gateway.model_runtime, gateway.settings)


@router.post(
    "/upload",
    operation_id="uploadDocuments",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(413, 415, 422),
)
@use_documents
async def upload(
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    files: Annotated[list[UploadFile], File(description="One or more files.")],
    tags: Annotated[str | None, Form(max_length=2000, description="Comma-separated.")] = None,
    agent_id: Annotated[str | None, Form(alias="agentId", max_length=40)] = None,
    collection: Annotated[str | None, Form(max_length=100)] = None,
    visibility: Annotated[Visibility, Form()] = Visibility.PRIVATE,
    duplicate: Annotated[
        bool, Query(description="Store again even when the same bytes are already here.")
    ] = False,
) -> UploadAccepted:
    """Stores the files (streamed; over `SOPHON_MAX_UPLOAD_BYTES` is 413) and queues their
    extraction and indexing; answers at once. A file whose content is of no supported type, or
    does not match its extension, is refused with 415 naming the detected type. The same bytes
    uploaded again return the existing document (`duplicate: true`) unless `?duplicate=true`."""
    incoming = [documents.Incoming(f.filename or "document", f.content_type, f.file) for f in files]
    options = documents.UploadOptions(
        tags=documents.parse_tags(tags),
        agent_id=agent_id,
        collection=collection,
        visibility=visibility.value,
        duplicate=duplicate,
    )
    stored = await documents.upload(
        db, Reader.of(principal), Storage(gateway.settings.data), incoming, options
    )
    return UploadAccepted(
        items=[
            UploadedItem(
                id=u.document.id,
                name=u.document.name,
                status=Status(u.document.status),
                duplicate=u.duplicate,
            )
            for u in stored
        ]
    )


@router.get("", operation_id="listDocuments")
@use_documents
async def list_documents(
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    principal: PrincipalDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    type_: Annotated[str | None, Query(alias="type", max_length=20)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    collection: Annotated[str | None, Query(max_length=100)] = None,
    agent: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
) -> Page[DocumentOut]:
    """The documents the caller may see, newest first (`type`: pdf, docx, pptx, xlsx, csv,
    html, markdown, text, json, image)."""
    where = documents.DocumentFilter(
        status=status_.value if status_ else None,
        format=type_,
        tag=tag,
        collection=collection,
        agent_id=agent,
        name=q,
        created_after=created_after,
        created_before=created_before,
    )
    stmt = documents.listing(Reader.of(principal), where)
    scope = f"documents:{principal.user_id}:{where}"
    return await page_of(gateway.paginator, db, stmt, page, scope, document_out)


@router.get("/search", operation_id="searchDocuments")
@use_documents
async def search(
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    document_id: Annotated[list[str] | None, Query(alias="documentId", max_length=50)] = None,
) -> SearchOut:
    """Chunks of the caller's Ready documents matching `q`: full-text and, with an embedding
    service configured, vectors, fused by reciprocal rank (as memory search). Each hit names
    its document, page and character range in the document's text."""
    engine = vectors.embedder(gateway.settings)
    hits, mode = await searching.search(db, Reader.of(principal), q, limit, engine, document_id)
    return SearchOut(items=[hit_out(h) for h in hits], mode=mode)


@router.post("/ask", operation_id="askDocuments", responses=error_responses(404, 502, 503))
@expensive
async def ask(body: AskIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep) -> AskOut:
    """Answers from the most relevant chunks (of `documentIds`, or of every document the caller
    may see), citing each chunk used with an exact quote from it."""
    return await analysis.ask(_parts(gateway), db, Reader.of(principal), body)


@router.post(
    "/compare", operation_id="compareDocuments", responses=error_responses(404, 409, 502, 503)
)
@expensive
async def compare(
    body: CompareIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> CompareOut:
    """Compares 2 to 5 Ready documents (optionally on a `focus`); cached per content and model."""
    return await analysis.compare(_parts(gateway), db, Reader.of(principal), body)


@router.get("/{document_id}", operation_id="getDocument", responses=ONE)
@use_documents
async def get_document(
    document_id: str,
    db: DbDep,
    principal: PrincipalDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=documents.TEXT_PAGE)] = documents.TEXT_PAGE,
) -> DocumentDetail:
    """Metadata and the extracted text, `limit` characters from `offset`."""
    document = await documents.get(db, Reader.of(principal), document_id)
    text = await documents.text_page(db, document, offset, limit)
    return DocumentDetail.model_validate({**document_out(document).model_dump(), "text": text})


@router.get(
    "/{document_id}/raw",
    operation_id="getDocumentRaw",
    responses={**ONE, 206: {"description": "A byte range (`Range: bytes=…`)."}},
    response_class=FileResponse,
)
@use_documents
async def raw(
    document_id: str, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> Response:
    """The original bytes with their type, as an attachment; `Range` requests are served."""
    document: Document = await documents.get(db, Reader.of(principal), document_id)
    path = Storage(gateway.settings.data).path(principal.tenant_id, document.sha256)
    return FileResponse(
        path,
        media_type=document.mime_type,
        filename=document.name,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/{document_id}/summarize",
    operation_id="summarizeDocument",
    responses=error_responses(404, 409, 502, 503),
)
@expensive
async def summarize(
    document_id: str,
    body: SummarizeIn,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
) -> SummaryOut:
    """A summary (`length`: short, medium, long; optional `focus`), cached per content hash,
    model and options."""
    parts = _parts(gateway)
    return await analysis.summarize(parts, db, Reader.of(principal), document_id, body)


@router.post(
    "/{document_id}/extract",
    operation_id="extractFromDocument",
    responses=error_responses(404, 409, 422, 502, 503),
)
@expensive
async def extract(
    document_id: str,
    body: ExtractIn,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
) -> ExtractOut:
    """Structured extraction: a JSON Schema in, a JSON value out that validates against it
    (422 with the reasons when the model's answer does not)."""
    parts = _parts(gateway)
    return await analysis.extract(parts, db, Reader.of(principal), document_id, body)


@router.delete(
    "/{document_id}",
    operation_id="deleteDocument",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ONE,
)
@use_documents
async def delete_document(
    document_id: str, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> Response:
    """Erases the document everywhere: the file, its text, its chunks and their vectors."""
    storage = Storage(gateway.settings.data)
    await documents.erase(db, Reader.of(principal), storage, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
