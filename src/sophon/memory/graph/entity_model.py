"""Entities and relations extracted by the tenant's model. Saving an entry indexes it at once
with the deterministic extractor; when the tenant has a model provider, the entry is also marked
`pending` and a job asks the model (JSON-schema-constrained) for a better reading, which
replaces the deterministic one. A failed call, an echo answer or an answer that breaks the
schema leaves the deterministic reading in place (the entry becomes `rules`)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory.graph import service as graph
from sophon.memory.graph.extractor import Extraction, Found
from sophon.memory.learning import modelcall
from sophon.memory.models import MemoryEntry
from sophon.memory.schemas import EntityType
from sophon.platform import queue
from sophon.platform.db import Database
from sophon.platform.vault import Vault
from sophon.providers import routing
from sophon.providers.connect import ProviderRuntime
from sophon.providers.schemas import ProviderStatus
from sophon.providers.service import list_providers

log = logging.getLogger(__name__)

JOB = "memory.entities"
QUEUED_KEY = "memory.entities.queued"
PENDING, RULES, MODEL = "pending", "rules", "model"
BATCH = 8
MAX_ENTITIES = 40
PREDICATE = re.compile(r"^[a-z][a-z_]{0,49}$")
TYPES = [t.value for t in EntityType]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entities", "relations"],
    "properties": {
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "type"],
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "type": {"type": "string", "enum": TYPES},
                },
            },
        },
        "relations": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subject", "predicate", "object"],
                "properties": {
                    "subject": {"type": "string"},
                    "predicate": {"type": "string", "pattern": PREDICATE.pattern},
                    "object": {"type": "string"},
                },
            },
        },
    },
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "memory_entities", "strict": True, "schema": SCHEMA},
}
SYSTEM = (
    "You read one note from a user's long-term memory and list the named things it mentions "
    "(people, organizations, projects, places, dates as YYYY-MM-DD, concepts) and the facts "
    "relating them, as snake_case predicates such as works_at, lives_in, married_to, manages, "
    "works_on, reports_to. Use names exactly as written; a relation's subject and object must "
    "be names from your entity list. Answer with JSON only, following this schema: "
    + json.dumps(SCHEMA, separators=(",", ":"))
)


class Malformed(ValueError):
    pass


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Malformed("a name must be a non-empty string")
    return " ".join(value.split())


def parse(answer: str) -> Extraction:
    """The model's answer as an extraction; `Malformed` when it breaks the schema."""
    try:
        data = modelcall.parse_json(answer)
    except ValueError as error:
        raise Malformed(str(error)) from error
    if not isinstance(data, dict) or set(data) != {"entities", "relations"}:
        raise Malformed("the answer must have exactly `entities` and `relations`")
    entities, relations = data["entities"], data["relations"]
    if not isinstance(entities, list) or not isinstance(relations, list):
        raise Malformed("`entities` and `relations` must be lists")
    out = Extraction()
    by_name: dict[str, Found] = {}
    for item in entities[:MAX_ENTITIES]:
        if not isinstance(item, dict) or item.get("type") not in TYPES:
            raise Malformed("an entity needs a name and a known type")
        found = out.add(Found(_text(item.get("name"), 200), str(item["type"])))
        by_name[found.name.casefold()] = found
    for item in relations[:MAX_ENTITIES]:
        if not isinstance(item, dict):
            raise Malformed("a relation must be an object")
        predicate = item.get("predicate")
        if not isinstance(predicate, str) or not PREDICATE.match(predicate):
            raise Malformed("a predicate must be snake_case")
        subject = by_name.get(_text(item.get("subject"), 200).casefold())
        obj = by_name.get(_text(item.get("object"), 200).casefold())
        if subject is None or obj is None:
            raise Malformed("a relation must join two listed entities")
        out.relations.append((subject, predicate, obj))
    return out


async def has_model(db: AsyncSession) -> bool:
    """Whether the session tenant has a provider routing could use (else only echo answers)."""
    rows = await list_providers(db)
    return any(r.status != ProviderStatus.INACTIVE for r in rows)


async def request(db: AsyncSession, entry_ids: list[str]) -> None:
    """Marks the entries for the model's reading and makes sure a job will do it (one queued
    at a time); nothing when the tenant has no model."""
    if not entry_ids:
        return
    if QUEUED_KEY not in db.info:
        db.info[QUEUED_KEY] = await has_model(db)
        if db.info[QUEUED_KEY] and not await queue.is_queued(db, JOB):
            queue.enqueue(db, JOB, {}, serial_key=JOB)
    if db.info[QUEUED_KEY]:
        await db.execute(
            update(MemoryEntry).where(MemoryEntry.id.in_(entry_ids)).values(graph_method=PENDING)
        )


async def ask(
    model_runtime: ProviderRuntime, candidates: list[routing.Candidate], text: str
) -> modelcall.Answer | None:
    """The model's answer for one entry, or None (no model, or every provider failed)."""
    return await modelcall.ask(
        model_runtime, candidates, SYSTEM, text, response_format=RESPONSE_FORMAT
    )


async def run(
    database: Database, vault: Vault, model_runtime: ProviderRuntime, tenant_id: str
) -> int:
    """Reads up to `BATCH` pending entries with the model; how many it looked at. The model is
    called outside any transaction; an entry changed meanwhile is left for its next pass."""
    async with database.transaction(tenant_id=tenant_id, readonly=True) as db:
        rows = (
            await db.execute(
                select(MemoryEntry.id, MemoryEntry.content, MemoryEntry.version)
                .where(MemoryEntry.graph_method == PENDING)
                .order_by(MemoryEntry.num)
                .limit(BATCH)
            )
        ).all()
        candidates = await routing.plan(db, vault, None) if rows else []
    for entry_id, content, version in rows:
        answer = await ask(model_runtime, candidates, content)
        extraction: Extraction | None = None
        if answer is not None:
            try:
                extraction = parse(answer.text)
            except Malformed as error:
                log.warning("memory entity answer rejected", extra={"error": str(error)})
        async with database.transaction(tenant_id=tenant_id) as db:
            entry = await db.scalar(
                select(MemoryEntry).where(
                    MemoryEntry.id == entry_id,
                    MemoryEntry.version == version,
                    MemoryEntry.graph_method == PENDING,
                )
            )
            if answer is not None:  # the call was made, whatever became of the entry
                answer.record(
                    db,
                    agent_id=entry.agent_id if entry else None,
                    user_id=entry.user_id if entry else None,
                )
            if entry is None:
                continue
            if extraction is not None:
                await graph.index_entries(db, [entry], None, extracted={entry.id: extraction})
            entry.graph_method = MODEL if extraction is not None else RULES
    return len(rows)
