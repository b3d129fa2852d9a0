"""Model work on documents: summaries, structured extraction against a JSON Schema, comparison
of 2 to 5 documents, and questions answered with citations. Document text reaches the model only
inside the external-content wrapper (source `Document`). Summaries, extractions and comparisons
are cached per (content hash, model, options)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit.marks import exempt
from sophon.documents import citations, modelwork
from sophon.documents import search as searching
from sophon.documents import service as documents
from sophon.documents.access import Reader
from sophon.documents.chunking import full_text
from sophon.documents.models import Document, DocumentResult
from sophon.documents.modelwork import Parts
from sophon.documents.schemas import (
    AskIn,
    AskOut,
    Citation,
    CompareIn,
    CompareOut,
    ExtractIn,
    ExtractOut,
    Status,
    SummarizeIn,
    SummaryOut,
)
from sophon.memory.search import vectors
from sophon.platform.errors import Conflict, UpstreamUnavailable, ValidationFailed

__all__ = ["Parts", "ask", "compare", "extract", "summarize"]

LENGTHS = {"short": "3 to 5 sentences", "medium": "2 or 3 paragraphs", "long": "a detailed page"}
SENTENCES = {"short": 3, "medium": 6, "long": 12}  # of an extract, without a model
OFFLINE_PASSAGES = 3
ASK_CHUNKS = 8


def _ready(document: Document) -> None:
    if document.status != Status.READY.value:
        raise Conflict(
            f"The document is {document.status}, not Ready.",
            {"documentId": document.id, "status": document.status},
        )


async def _cached(db: AsyncSession, key: str) -> dict[str, Any] | None:
    row = await db.scalar(select(DocumentResult).where(DocumentResult.key == key))
    return dict(row.result) if row is not None else None


async def _store(
    db: AsyncSession, key: str, kind: str, sha256: str, model: str, result: dict[str, Any]
) -> None:
    if await db.get(DocumentResult, key) is None:
        db.add(DocumentResult(key=key, kind=kind, sha256=sha256, model=model, result=result))
        await db.flush()


async def _body(db: AsyncSession, document: Document, budget: int) -> str:
    pages = await documents.text_of(db, document.id)
    text = full_text(pages)
    if len(text) <= budget:
        return text
    return modelwork.within([p for p in pages if p.strip()], budget)


@exempt("writes only a cache of the model's answer")
async def summarize(
    parts: Parts, db: AsyncSession, reader: Reader, document_id: str, body: SummarizeIn
) -> SummaryOut:
    document = await documents.get(db, reader, document_id)
    _ready(document)
    planned = await modelwork.plan(parts, db)
    if planned.offline:
        text = full_text(await documents.text_of(db, document.id))
        summary = citations.extract_summary(text, SENTENCES[body.length], body.focus)
        return SummaryOut(
            document_id=document.id, summary=summary, model=modelwork.EXTRACTIVE, cached=False
        )
    options = {"length": body.length, "focus": body.focus}
    key = modelwork.cache_key("summary", document.sha256, planned.model, options)
    hit = await _cached(db, key)
    if hit is not None:
        return SummaryOut(
            document_id=document.id, summary=hit["summary"], model=hit["model"], cached=True
        )
    text = await _body(db, document, modelwork.CONTEXT_CHARS)
    focus = f" Focus on: {body.focus}." if body.focus else ""
    system = (
        f"Summarise the document for the user in {LENGTHS[body.length]}.{focus} "
        "Use only what the document says. Plain text."
    )
    answer, model = await modelwork.ask(
        parts, db, planned, system, modelwork.wrapped(text, document.name)
    )
    summary = answer.strip()
    await _store(db, key, "summary", document.sha256, model, {"summary": summary, "model": model})
    return SummaryOut(document_id=document.id, summary=summary, model=model, cached=False)


def _check_schema(schema: dict[str, Any]) -> None:
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ValidationFailed.on(
            "body.schema", f"The schema is not a valid JSON Schema: {error.message}", error.message
        ) from None


@exempt("writes only a cache of the model's answer")
async def extract(
    parts: Parts, db: AsyncSession, reader: Reader, document_id: str, body: ExtractIn
) -> ExtractOut:
    schema = body.schema_
    _check_schema(schema)
    document = await documents.get(db, reader, document_id)
    _ready(document)
    planned = await modelwork.plan(parts, db, required=True)
    key = modelwork.cache_key("extract", document.sha256, planned.model, schema)
    hit = await _cached(db, key)
    if hit is not None:
        return ExtractOut(
            document_id=document.id, data=hit["data"], model=hit["model"], cached=True
        )
    text = await _body(db, document, modelwork.CONTEXT_CHARS)
    system = (
        "Extract data from the document. Answer with one JSON value that validates against "
        "this JSON Schema, and nothing else. Use null where the document does not say.\n"
        f"Schema: {jsonschema_text(schema)}"
    )
    answer, model = await modelwork.ask(
        parts,
        db,
        planned,
        system,
        modelwork.wrapped(text, document.name),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "extraction", "schema": schema},
        },
    )
    try:
        data = modelwork.parse_json(answer)
    except ValueError:
        raise ValidationFailed(
            "The model's answer is not JSON.", {"answer": answer[:2000], "errors": ["not JSON"]}
        ) from None
    errors = sorted(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(data),
        key=lambda e: list(e.path),
    )
    if errors:
        raise ValidationFailed(
            "The model's answer does not validate against the schema.",
            {
                "errors": [
                    {"path": "/" + "/".join(str(p) for p in e.path), "message": e.message}
                    for e in errors[:20]
                ],
                "answer": data,
            },
        )
    await _store(db, key, "extract", document.sha256, model, {"data": data, "model": model})
    return ExtractOut(document_id=document.id, data=data, model=model, cached=False)


def jsonschema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False)[:20_000]


@exempt("writes only a cache of the model's answer")
async def compare(parts: Parts, db: AsyncSession, reader: Reader, body: CompareIn) -> CompareOut:
    found = await documents.get_many(db, reader, body.document_ids)
    if len(found) < 2:
        raise ValidationFailed.on(
            "body.documentIds", "Name at least two different documents.", "needs two distinct ids"
        )
    for document in found:
        _ready(document)
    planned = await modelwork.plan(parts, db, required=True)
    shas = [d.sha256 for d in found]
    key = modelwork.cache_key("compare", ",".join(shas), planned.model, body.focus)
    hit = await _cached(db, key)
    ids = [d.id for d in found]
    if hit is not None:
        return CompareOut(
            document_ids=ids, comparison=hit["comparison"], model=hit["model"], cached=True
        )
    share = modelwork.CONTEXT_CHARS // len(found)
    texts = [modelwork.wrapped(await _body(db, d, share), d.name) for d in found]
    focus = f" Focus on: {body.focus}." if body.focus else ""
    system = (
        "Compare the documents: what they agree on, where they differ, and what only one of "
        f"them covers. Name each document by its name.{focus} Plain text."
    )
    user = "\n\n".join(
        f"Document {i + 1}: {d.name}\n{t}"
        for i, (d, t) in enumerate(zip(found, texts, strict=True))
    )
    answer, model = await modelwork.ask(parts, db, planned, system, user, max_tokens=2000)
    comparison = answer.strip()
    await _store(
        db, key, "compare", ",".join(shas), model, {"comparison": comparison, "model": model}
    )
    return CompareOut(document_ids=ids, comparison=comparison, model=model, cached=False)


ASK_SYSTEM = (
    "Answer the question from the numbered document passages only. Reply with JSON: "
    '{"answer": "...", "citations": [{"chunk": "C1", "quote": "exact words copied from that '
    'passage"}]}. Cite every passage you used, quoting it word for word. If the passages do '
    "not answer the question, say so in the answer and cite nothing."
)


@exempt("a question reads only")
async def ask(parts: Parts, db: AsyncSession, reader: Reader, body: AskIn) -> AskOut:
    if body.document_ids:
        await documents.get_many(db, reader, body.document_ids)
    planned = await modelwork.plan(parts, db)
    engine = vectors.embedder(parts.settings)
    hits, _mode = await searching.search(
        db, reader, body.question, ASK_CHUNKS, engine, body.document_ids
    )
    if not hits:
        return AskOut(
            answer="No passage of the documents matches this question.",
            citations=[],
            model=planned.model,
        )
    shown = [citations.Shown(f"C{i + 1}", h.chunk, h.document) for i, h in enumerate(hits)]
    if planned.offline:  # the best-matching sentence of the best passages, cited
        picks = [{"chunk": s.label, "quote": body.question} for s in shown[:OFFLINE_PASSAGES]]
        cited = citations.resolve(picks, shown)
        return AskOut(
            answer="Without a model provider, here are the passages that match best:\n"
            + "\n".join(f"- {c['quote']}" for c in cited),
            citations=[Citation.model_validate(c) for c in cited],
            model=modelwork.EXTRACTIVE,
        )
    passages = "\n\n".join(
        f"[{s.label}] {s.document.name}, page {s.chunk.page}:\n"
        + modelwork.wrapped(s.chunk.content, s.document.name)
        for s in shown
    )
    user = f"Question: {body.question}\n\nPassages:\n{passages}"
    answer, model = await modelwork.ask(parts, db, planned, ASK_SYSTEM, user)
    try:
        parsed = modelwork.parse_json(answer)
    except ValueError:
        parsed = {"answer": answer, "citations": []}
    if not isinstance(parsed, dict) or not isinstance(parsed.get("answer"), str):
        raise UpstreamUnavailable("The model's answer was not in the asked form.")
    cited = citations.resolve(parsed.get("citations"), shown)
    return AskOut(
        answer=parsed["answer"].strip(),
        citations=[Citation.model_validate(c) for c in cited],
        model=model,
    )
