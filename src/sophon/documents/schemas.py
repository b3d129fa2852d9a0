"""Wire models of `/api/documents` (camelCase through the shared base)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

TAG_PATTERN = r"^[\w.:-]{1,50}$"


class Status(StrEnum):
    UPLOADED = "Uploaded"
    EXTRACTING = "Extracting"
    INDEXING = "Indexing"
    READY = "Ready"
    FAILED = "Failed"


class Visibility(StrEnum):
    PRIVATE = "private"
    TENANT = "tenant"


class DocumentOut(ApiModel):
    id: str
    name: str
    mime_type: str
    format: str
    size: int
    sha256: str
    pages: int | None
    chars: int | None
    language: str | None
    status: Status
    error_code: str | None = Field(
        description="`unsupported_type`, `encrypted`, `too_large`, `extraction_timeout` or "
        "`empty_text` when Failed (`extraction_failed` when the pipeline itself crashed)."
    )
    error: str | None
    notes: list[str]
    tags: list[str]
    collection: str | None
    agent_id: str | None
    visibility: Visibility
    vectors: str | None = Field(
        description="Its chunks' vectors for search by meaning: `ready`, `pending` (the "
        "embedding service failed; retried with backoff, meanwhile found by its words), "
        "`failed` (given up: found by its words only), or null (no embedding service)."
    )
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class TextPage(ApiModel):
    offset: int
    limit: int
    total: int
    has_more: bool
    content: str


class DocumentDetail(DocumentOut):
    text: TextPage | None = Field(description="The extracted text (paged), once extracted.")


class UploadedItem(ApiModel):
    id: str
    name: str
    status: Status
    duplicate: bool = Field(description="True when an identical file was already here.")


class UploadAccepted(ApiModel):
    items: list[UploadedItem]


class SearchHitOut(ApiModel):
    chunk_id: str
    document_id: str
    document_name: str
    page: int
    start: int = Field(description="Character offset of the chunk in the document's text.")
    end: int
    heading: str | None
    score: float
    snippet: str = Field(description="HTML-escaped, matches in <mark>.")
    matched: list[str]


class SearchOut(ApiModel):
    items: list[SearchHitOut]
    mode: str = Field(description="`lexical`, or `hybrid` with a vector list fused in.")


class Citation(ApiModel):
    chunk_id: str
    document_id: str
    document_name: str
    page: int
    start: int = Field(description="Where the quote starts in the document's text.")
    end: int
    quote: str = Field(description="An exact substring of the chunk.")


class SummarizeIn(RequestModel):
    length: str = Field("medium", pattern="^(short|medium|long)$")
    focus: str | None = Field(None, max_length=500)


class SummaryOut(ApiModel):
    document_id: str
    summary: str
    model: str
    cached: bool


class ExtractIn(RequestModel):
    schema_: dict[str, Any] = Field(alias="schema", description="A JSON Schema of the result.")


class ExtractOut(ApiModel):
    document_id: str
    data: Any
    model: str
    cached: bool


class CompareIn(RequestModel):
    document_ids: list[str] = Field(min_length=2, max_length=5)
    focus: str | None = Field(None, max_length=500)


class CompareOut(ApiModel):
    document_ids: list[str]
    comparison: str
    model: str
    cached: bool


class AskIn(RequestModel):
    question: str = Field(min_length=1, max_length=2000)
    document_ids: list[str] | None = Field(None, max_length=50)


class AskOut(ApiModel):
    answer: str
    citations: list[Citation]
    model: str


class DocumentPatchIn(RequestModel):
    tags: list[str] | None = Field(None, max_length=32)
    visibility: Visibility | None = None
    collection: str | None = Field(None, max_length=100)
