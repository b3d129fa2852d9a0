"""The entity graph: entities linked to the entries that mention them, and relations between
entities with a validity period. A new single-valued fact ("works at") closes the open relation
it contradicts (its `valid_to`), so the graph answers "what was true when"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit.marks import exempt
from sophon.memory.graph.extractor import SINGLE_VALUED, Extraction, Found, extract
from sophon.memory.models import (
    MemoryEntity,
    MemoryEntityLink,
    MemoryEntry,
    MemoryRelation,
    table_of,
)
from sophon.platform.clock import utcnow
from sophon.platform.ids import new_id
from sophon.platform.tenancy import session_tenant


@dataclass(frozen=True)
class Indexed:
    """What indexing needs of an entry (a row or a plain record from a bulk insert)."""

    id: str
    content: str
    valid_from: datetime
    valid_to: datetime | None


Indexable = MemoryEntry | Indexed
INLINE_CHARS = 4096  # longer texts are parsed in a thread, off the event loop


def key(name: str) -> str:
    return " ".join(name.split()).casefold()[:200]


async def _extract(text: str, me: str | None) -> Extraction:
    if len(text) <= INLINE_CHARS:
        return extract(text, me)
    return await asyncio.to_thread(extract, text, me)


@exempt("the graph is an index derived from entries, which are audited")
async def ensure_entities(db: AsyncSession, found: Iterable[Found]) -> dict[tuple[str, str], str]:
    """Entity ids by (type, name key), made when missing."""
    wanted = {(f.type, key(f.name)): f.name.strip()[:200] for f in found}
    if not wanted:
        return {}
    keys = {k for _, k in wanted}
    rows = await db.execute(
        select(MemoryEntity.type, MemoryEntity.name_key, MemoryEntity.id).where(
            MemoryEntity.name_key.in_(keys)
        )
    )
    ids = {(t, k): i for t, k, i in rows.all()}
    for (kind, name_key), name in wanted.items():
        if (kind, name_key) in ids:
            continue
        entity = MemoryEntity(id=new_id("ent"), name=name, name_key=name_key, type=kind)
        try:
            async with db.begin_nested():  # another writer may have made it a moment ago
                db.add(entity)
                await db.flush()
            ids[(kind, name_key)] = entity.id
        except IntegrityError:
            made = await db.scalar(
                select(MemoryEntity.id).where(
                    MemoryEntity.type == kind, MemoryEntity.name_key == name_key
                )
            )
            assert made is not None
            ids[(kind, name_key)] = made
    return {k: ids[k] for k in wanted}


@exempt("the graph is an index derived from entries, which are audited")
async def index_entry(db: AsyncSession, entry: Indexable, me: str | None) -> None:
    await index_entries(db, [entry], me)


@exempt("the graph is an index derived from entries, which are audited")
async def index_entries(
    db: AsyncSession,
    entries: Sequence[Indexable],
    me: str | None,
    *,
    fresh: bool = False,
    extracted: dict[str, Extraction] | None = None,
) -> None:
    """(Re)links the entries to the entities they mention and records their relations. On a
    re-index, relations the new text no longer states are removed. `fresh`: new entries, with
    nothing to unlink. `extracted`: readings made elsewhere (the model's), else the
    deterministic extractor reads each entry."""
    found = dict(extracted or {})
    for e in entries:
        if e.id not in found:
            found[e.id] = await _extract(e.content, me)
    all_found = [f for x in found.values() for f in x.entities]
    ids = await ensure_entities(db, all_found)
    entry_ids = [e.id for e in entries]
    if not fresh:
        await db.execute(delete(MemoryEntityLink).where(MemoryEntityLink.entry_id.in_(entry_ids)))
        await db.execute(
            delete(MemoryRelation).where(MemoryRelation.source_entry_id.in_(entry_ids))
        )
    links = {(e.id, ids[(f.type, key(f.name))]) for e in entries for f in found[e.id].entities}
    if links:
        tenant = session_tenant(db.sync_session)
        await db.execute(
            table_of(MemoryEntityLink).insert(),
            [{"entry_id": a, "entity_id": b, "tenant_id": tenant} for a, b in links],
        )
    for entry in entries:
        for subject, predicate, obj in found[entry.id].relations:
            await _relate(
                db,
                entry,
                ids[(subject.type, key(subject.name))],
                predicate,
                ids[(obj.type, key(obj.name))],
            )
    await db.flush()


async def _relate(
    db: AsyncSession, entry: Indexable, subject: str, predicate: str, obj: str
) -> None:
    start = entry.valid_from
    if predicate in SINGLE_VALUED:
        open_rows = await db.scalars(
            select(MemoryRelation).where(
                MemoryRelation.subject_id == subject,
                MemoryRelation.predicate == predicate,
                MemoryRelation.object_id != obj,
                MemoryRelation.valid_to.is_(None),
                MemoryRelation.valid_from <= start,
            )
        )
        for old in open_rows:
            old.valid_to = start
    db.add(
        MemoryRelation(
            id=new_id("rel"),
            subject_id=subject,
            predicate=predicate,
            object_id=obj,
            valid_from=start,
            valid_to=entry.valid_to,
            source_entry_id=entry.id,
            created_at=utcnow(),
        )
    )


@exempt("the graph is an index derived from entries, which are audited")
async def remove_for_entry(db: AsyncSession, entry_id: str) -> list[str]:
    """Drops the entry's links and the relations derived from it; returns the entities it
    mentioned (so a caller can drop those left without any link)."""
    mentioned = list(
        (
            await db.scalars(
                select(MemoryEntityLink.entity_id).where(MemoryEntityLink.entry_id == entry_id)
            )
        ).all()
    )
    related = await db.execute(
        select(MemoryRelation.subject_id, MemoryRelation.object_id).where(
            MemoryRelation.source_entry_id == entry_id
        )
    )
    for subject, obj in related.all():
        mentioned += [subject, obj]
    await db.execute(delete(MemoryEntityLink).where(MemoryEntityLink.entry_id == entry_id))
    await db.execute(delete(MemoryRelation).where(MemoryRelation.source_entry_id == entry_id))
    return list(dict.fromkeys(mentioned))


@exempt("the graph is an index derived from entries, which are audited")
async def drop_orphans(db: AsyncSession, entity_ids: list[str]) -> int:
    """Deletes those of the entities no entry mentions and no relation uses any more."""
    if not entity_ids:
        return 0
    linked = set(
        (
            await db.scalars(
                select(MemoryEntityLink.entity_id).where(MemoryEntityLink.entity_id.in_(entity_ids))
            )
        ).all()
    )
    related = await db.execute(
        select(MemoryRelation.subject_id, MemoryRelation.object_id).where(
            or_(
                MemoryRelation.subject_id.in_(entity_ids),
                MemoryRelation.object_id.in_(entity_ids),
            )
        )
    )
    for subject, obj in related.all():
        linked |= {subject, obj}
    orphans = [e for e in entity_ids if e not in linked]
    if orphans:
        await db.execute(delete(MemoryEntity).where(MemoryEntity.id.in_(orphans)))
    return len(orphans)


async def entities_by_entry(
    db: AsyncSession, entry_ids: list[str]
) -> dict[str, list[MemoryEntity]]:
    if not entry_ids:
        return {}
    rows = await db.execute(
        select(MemoryEntityLink.entry_id, MemoryEntity)
        .join(MemoryEntity, MemoryEntity.id == MemoryEntityLink.entity_id)
        .where(MemoryEntityLink.entry_id.in_(entry_ids))
        .order_by(MemoryEntity.name)
    )
    out: dict[str, list[MemoryEntity]] = {i: [] for i in entry_ids}
    for entry_id, entity in rows.all():
        out[entry_id].append(entity)
    return out
