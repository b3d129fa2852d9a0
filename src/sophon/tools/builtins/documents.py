"""The document tools: `document.search`, `document.read` (a page or a character range),
`document.summarize` and `document.query` (a question answered with citations), all risk None.
The agent acts for the user of its session: it sees that user's documents and the tenant's
shared ones. Results reach the model inside the runtime's external-content wrapper with the
source `Document` (declared here, once per tool), so what a document says stays data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.documents import analysis, modelwork
from sophon.documents import search as searching
from sophon.documents import service as documents
from sophon.documents.access import Reader
from sophon.documents.schemas import AskIn, SummarizeIn
from sophon.memory.search import vectors
from sophon.platform.errors import DomainError
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool

READ_CHARS = 8000


class SearchArguments(ToolArguments):
    query: str = Field(min_length=1, max_length=1000, description="What to look for.")
    document_ids: list[str] | None = Field(None, max_length=20, description="Only these.")
    limit: int = Field(5, ge=1, le=20)


class ReadArguments(ToolArguments):
    id: str = Field(min_length=1, max_length=40, description="A document id (`doc_…`).")
    page: int | None = Field(None, ge=1, description="One page (1-based).")
    offset: int = Field(0, ge=0, description="Else: characters from here …")
    limit: int = Field(READ_CHARS, ge=1, le=50_000, description="… this many.")


class SummarizeArguments(ToolArguments):
    id: str = Field(min_length=1, max_length=40)
    length: Literal["short", "medium", "long"] = "medium"
    focus: str | None = Field(None, max_length=500)


class QueryArguments(ToolArguments):
    question: str = Field(min_length=1, max_length=2000)
    document_ids: list[str] | None = Field(None, max_length=20)


class Unavailable(Exception):
    pass


@asynccontextmanager
async def _session(context: ToolContext) -> AsyncIterator[tuple[AsyncSession, Reader]]:
    if context.database is None or context.tenant_id is None:
        raise Unavailable("documents are not reachable from here")
    async with context.database.transaction(tenant_id=context.tenant_id) as db:
        yield db, Reader.agent(context.tenant_id, context.principal_id, context.agent_id)


def _parts(context: ToolContext) -> modelwork.Parts:
    if context.vault is None or context.model_runtime is None:
        raise Unavailable("no model is reachable from here")
    return modelwork.Parts(context.vault, context.model_runtime, context.settings)


def _failed(error: Exception) -> ToolResult:
    if isinstance(error, DomainError):
        return ToolResult.error(error.message, {"code": error.code, **error.details})
    return ToolResult.error(str(error))


async def document_search(context: ToolContext, args: SearchArguments) -> ToolResult:
    try:
        async with _session(context) as (db, reader):
            engine = vectors.embedder(context.settings)
            hits, mode = await searching.search(
                db, reader, args.query, args.limit, engine, args.document_ids
            )
    except (Unavailable, DomainError) as error:
        return _failed(error)
    if not hits:
        return ToolResult(content="No document passage matches.", data={"items": [], "mode": mode})
    lines = [
        f"[{h.document.id} p.{h.chunk.page} chars {h.chunk.start}-{h.chunk.end}] "
        f"{h.document.name}: {h.chunk.content[:400]}"
        for h in hits
    ]
    items = [
        {
            "documentId": h.document.id,
            "chunkId": h.chunk.id,
            "page": h.chunk.page,
            "start": h.chunk.start,
            "end": h.chunk.end,
            "score": h.score,
        }
        for h in hits
    ]
    return ToolResult(content="\n".join(lines), data={"items": items, "mode": mode})


async def document_read(context: ToolContext, args: ReadArguments) -> ToolResult:
    try:
        async with _session(context) as (db, reader):
            document = await documents.get(db, reader, args.id)
            if args.page is not None:
                page = await documents.page_text(db, document.id, args.page)
                if page is None:
                    return ToolResult.error(f"{document.name} has no page {args.page}.")
                content, start = page.text[: args.limit], page.start
            else:
                sliced = await documents.text_page(db, document, args.offset, args.limit)
                if sliced is None:
                    return ToolResult.error(f"{document.name} is {document.status}: no text yet.")
                content, start = sliced.content, args.offset
    except (Unavailable, DomainError) as error:
        return _failed(error)
    where = (
        f"page {args.page}" if args.page is not None else f"chars {start}-{start + len(content)}"
    )
    data = {"documentId": document.id, "page": args.page, "start": start, "pages": document.pages}
    return ToolResult(
        content=f"{document.name} ({where} of {document.chars}):\n{content}", data=data
    )


async def document_summarize(context: ToolContext, args: SummarizeArguments) -> ToolResult:
    try:
        parts = _parts(context)
        async with _session(context) as (db, reader):
            body = SummarizeIn(length=args.length, focus=args.focus)
            out = await analysis.summarize(parts, db, reader, args.id, body)
    except (Unavailable, DomainError) as error:
        return _failed(error)
    return ToolResult(content=out.summary, data=out.model_dump(mode="json"))


async def document_query(context: ToolContext, args: QueryArguments) -> ToolResult:
    try:
        parts = _parts(context)
        async with _session(context) as (db, reader):
            out = await analysis.ask(
                parts, db, reader, AskIn(question=args.question, document_ids=args.document_ids)
            )
    except (Unavailable, DomainError) as error:
        return _failed(error)
    cited = "\n".join(f'[{c.document_name} p.{c.page}] "{c.quote}"' for c in out.citations)
    content = out.answer + (f"\n\nSources:\n{cited}" if cited else "")
    return ToolResult(content=content, data=out.model_dump(mode="json"))


def document_tools() -> list[Tool]:
    return [
        builtin_tool(
            "document.search",
            "Searches the user's documents; each hit names document, page and character range.",
            RiskLevel.NONE,
            SearchArguments,
            document_search,
            result_source=modelwork.SOURCE,
        ),
        builtin_tool(
            "document.read",
            "Reads a document's text: one page, or a character range.",
            RiskLevel.NONE,
            ReadArguments,
            document_read,
            result_source=modelwork.SOURCE,
        ),
        builtin_tool(
            "document.summarize",
            "Summarises a document (short, medium or long; optionally on a focus).",
            RiskLevel.NONE,
            SummarizeArguments,
            document_summarize,
            result_source=modelwork.SOURCE,
        ),
        builtin_tool(
            "document.query",
            "Answers a question from the user's documents, citing the passages used.",
            RiskLevel.NONE,
            QueryArguments,
            document_query,
            result_source=modelwork.SOURCE,
        ),
    ]
