"""Tables of the documents domain: documents (metadata and pipeline state), their extracted
pages, their chunks (in a full-text index beside the table, see `fts`), chunk vectors, cached
model results, and the documents attached to a chat turn."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.documents import fts
from sophon.memory.models import table_of
from sophon.platform.clock import utcnow
from sophon.platform.db import Base
from sophon.platform.tenancy import TenantScoped


class Document(Base, TenantScoped):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_owner", "tenant_id", "created_by", "id"),
        Index("ix_documents_sha", "tenant_id", "sha256"),
        Index("ix_documents_status", "tenant_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(120))
    format: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer)
    chars: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    collection: Mapped[str | None] = mapped_column(String(100))
    agent_id: Mapped[str | None] = mapped_column(String(40))
    visibility: Mapped[str] = mapped_column(String(10), default="private")
    vectors: Mapped[str | None] = mapped_column(String(10))
    """`pending`, `ready` or `failed` (see `vectorize`); None without an embedding service."""
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentPage(Base, TenantScoped):
    """The extracted text of one page (1-based); a document's text is its pages joined by
    a blank line, and chunk offsets count in that text."""

    __tablename__ = "document_pages"

    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class DocumentChunk(Base, TenantScoped):
    """A searchable piece of a document. `num` is the full-text index's integer rowid."""

    __tablename__ = "document_chunks"
    __table_args__ = (Index("ix_document_chunks_document", "document_id", "seq"),)

    num: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    page: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str | None] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)


class DocumentEmbedding(Base, TenantScoped):
    """A chunk's vector (unit length float32, as memory's) from `model`."""

    __tablename__ = "document_embeddings"

    chunk_id: Mapped[str] = mapped_column(
        ForeignKey("document_chunks.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200))
    dims: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class DocumentResult(Base, TenantScoped):
    """A cached model result (summary, extraction, comparison) per content hash, model and
    options (`key` hashes all three)."""

    __tablename__ = "document_results"
    __table_args__ = (Index("ix_document_results_sha", "tenant_id", "sha256"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    sha256: Mapped[str] = mapped_column(String(400))  # a comparison's: every one, comma-joined
    model: Mapped[str] = mapped_column(String(200))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentAttachment(Base, TenantScoped):
    """A document put in a chat turn's context (`POST /api/chat` `attachments`)."""

    __tablename__ = "document_attachments"

    task_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )


fts.attach(table_of(DocumentChunk))
