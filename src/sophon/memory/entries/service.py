"""Memory entries: create, read, change, delete, with every state kept as a version and every
write audited. HTTP-free; callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Text, cast, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.memory.entries.access import Actor, may_write, visible
from sophon.memory.graph import entity_model
from sophon.memory.graph import service as graph
from sophon.memory.models import MemoryEntry, MemoryEntryVersion, table_of
from sophon.memory.schemas import MAX_CONTENT_BYTES, EntryIn, EntryPatchIn, Scope
from sophon.memory.search import vectors
from sophon.platform.clock import iso, utcnow
from sophon.platform.errors import NotAuthorized, NotFound, PayloadTooLarge, ValidationFailed
from sophon.platform.ids import new_id
from sophon.platform.tenancy import session_tenant


@dataclass(frozen=True)
class EntryFilter:
    scope: str | None = None
    category: str | None = None
    agent_id: str | None = None
    tag: str | None = None
    text: str | None = None


def _check_content(content: str) -> None:
    size = len(content.encode())
    if size > MAX_CONTENT_BYTES:
        raise PayloadTooLarge(
            f"Memory content is limited to {MAX_CONTENT_BYTES} bytes.",
            {"limit": MAX_CONTENT_BYTES, "size": size},
        )


def _check_validity(valid_from: datetime, valid_to: datetime | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed.on(
            "body.validTo", "validTo is before validFrom.", "before validFrom"
        )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def listing(actor: Actor, where: EntryFilter) -> Select[MemoryEntry]:
    stmt = visible(actor)
    if where.scope:
        stmt = stmt.where(MemoryEntry.scope == where.scope)
    if where.category:
        stmt = stmt.where(MemoryEntry.category == where.category)
    if where.agent_id:
        stmt = stmt.where(MemoryEntry.agent_id == where.agent_id)
    if where.tag:
        # tags are `[\w.:-]+`, stored as a JSON list: the quoted tag can only match a whole tag
        stmt = stmt.where(cast(MemoryEntry.tags, Text).like(f'%"{where.tag.lower()}"%'))
    if where.text:
        stmt = stmt.where(MemoryEntry.content.ilike(f"%{_escape_like(where.text)}%", escape="\\"))
    return stmt


async def get(db: AsyncSession, actor: Actor, entry_id: str, *, lock: bool = False) -> MemoryEntry:
    stmt = visible(actor).where(MemoryEntry.id == entry_id)
    entry = await db.scalar(stmt.with_for_update() if lock else stmt)
    if entry is None:
        raise NotFound("No such memory entry.", {"entryId": entry_id})
    return entry


async def _agent_owner(db: AsyncSession, agent_id: str | None) -> str | None:
    if agent_id is None:
        return None
    return (await agents.get(db, agent_id)).owner_id


async def require_write(db: AsyncSession, actor: Actor, entry: MemoryEntry) -> None:
    owner = await _agent_owner(db, entry.agent_id) if entry.scope == Scope.AGENT.value else None
    if not may_write(actor, entry.scope, entry.user_id, owner, entry.agent_id):
        raise NotAuthorized(
            "Changing this memory needs the ManageMemory permission.",
            {"permission": "ManageMemory"},
        )


def state(entry: MemoryEntry) -> dict[str, Any]:
    return {
        "content": entry.content,
        "category": entry.category,
        "scope": entry.scope,
        "agentId": entry.agent_id,
        "userId": entry.user_id,
        "tags": list(entry.tags),
        "importance": entry.importance,
        "validFrom": iso(entry.valid_from),
        "validTo": iso(entry.valid_to) if entry.valid_to else None,
    }


def _version(actor: Actor, entry: MemoryEntry, change: str) -> MemoryEntryVersion:
    who = actor.audit_actor()
    return MemoryEntryVersion(
        id=new_id("mev"),
        entry_id=entry.id,
        version=entry.version,
        change=change,
        state=state(entry),
        actor=who.actor() if not isinstance(who, dict) else who,
        created_at=utcnow(),
    )


async def _audit(db: AsyncSession, actor: Actor, action: str, entry: MemoryEntry) -> None:
    # never the content: forgetting must be able to erase it, and audit rows are immutable
    details = {
        "scope": entry.scope,
        "category": entry.category,
        "agentId": entry.agent_id,
        "version": entry.version,
    }
    await audit.record(db, actor.audit_actor(), action, ("memory", entry.id), details=details)


def entry_values(actor: Actor, body: EntryIn) -> dict[str, Any]:
    """A validated new entry's column values (no permission check: see `create`)."""
    _check_content(body.content)
    if body.scope is Scope.AGENT and not body.agent_id:
        raise ValidationFailed.on(
            "body.agentId", "An agent-scoped memory names its agent.", "required for scope agent"
        )
    now = utcnow()
    valid_from = body.valid_from or now
    _check_validity(valid_from, body.valid_to)
    return {
        "id": new_id("mem"),
        "content": body.content,
        "category": body.category.value,
        "scope": body.scope.value,
        "agent_id": body.agent_id if body.scope is Scope.AGENT else None,
        "user_id": actor.user_id,
        "tags": list(body.tags),
        "importance": body.importance,
        "source_type": body.source.type.value,
        "source_session_id": body.source.session_id,
        "source_message_id": body.source.message_id,
        "valid_from": valid_from,
        "valid_to": body.valid_to,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "last_accessed_at": None,
    }


def new_entry(actor: Actor, body: EntryIn) -> MemoryEntry:
    return MemoryEntry(**entry_values(actor, body))


@audited("memory.create")
async def create(
    db: AsyncSession, actor: Actor, body: EntryIn, *, embed: bool = False
) -> MemoryEntry:
    """Saves a memory (searchable lexically at once); `embed` queues its vector."""
    entry = new_entry(actor, body)
    owner = await _agent_owner(db, entry.agent_id)
    if not may_write(actor, entry.scope, entry.user_id, owner, entry.agent_id):
        raise NotAuthorized(
            "Writing this agent's memory needs the ManageMemory permission.",
            {"permission": "ManageMemory"},
        )
    db.add(entry)
    db.add(_version(actor, entry, "create"))
    await db.flush()
    await graph.index_entry(db, entry, me=actor.email)
    await entity_model.request(db, [entry.id])
    await _audit(db, actor, "memory.create", entry)
    if embed:
        await vectors.request_embedding(db)
    return entry


@audited("memory.import")
async def create_many(
    db: AsyncSession, actor: Actor, bodies: list[EntryIn], *, embed: bool = False
) -> list[str]:
    """Bulk ingestion (imports, benchmarks): multi-row inserts for the whole batch (entries,
    their versions, entity links) and one audit entry; returns the new ids."""
    tenant = session_tenant(db.sync_session)
    rows = [{**entry_values(actor, body), "tenant_id": tenant} for body in bodies]
    owners: dict[str | None, str | None] = {}
    for row in rows:
        agent_id = row["agent_id"]
        if agent_id not in owners:
            owners[agent_id] = await _agent_owner(db, agent_id)
        if not may_write(actor, row["scope"], row["user_id"], owners[agent_id], agent_id):
            raise NotAuthorized("Writing this memory needs the ManageMemory permission.")
    if not rows:
        return []
    who = actor.audit_actor()
    actor_info = who.actor() if not isinstance(who, dict) else who
    versions = [
        {
            "id": new_id("mev"),
            "tenant_id": tenant,
            "entry_id": row["id"],
            "version": 1,
            "change": "create",
            "state": _row_state(row),
            "actor": actor_info,
            "created_at": row["created_at"],
        }
        for row in rows
    ]
    await db.execute(table_of(MemoryEntry).insert(), rows)
    await db.execute(table_of(MemoryEntryVersion).insert(), versions)
    await graph.index_entries(
        db, [graph.Indexed(**_indexed(r)) for r in rows], me=actor.email, fresh=True
    )
    await entity_model.request(db, [row["id"] for row in rows])
    await audit.record(db, actor.audit_actor(), "memory.import", None, details={"count": len(rows)})
    if embed:
        await vectors.request_embedding(db)
    return [row["id"] for row in rows]


def _indexed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "content", "valid_from", "valid_to")}


def _row_state(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": row["content"],
        "category": row["category"],
        "scope": row["scope"],
        "agentId": row["agent_id"],
        "userId": row["user_id"],
        "tags": row["tags"],
        "importance": row["importance"],
        "validFrom": iso(row["valid_from"]),
        "validTo": iso(row["valid_to"]) if row["valid_to"] else None,
    }


async def _reindex(db: AsyncSession, actor: Actor, entry: MemoryEntry, embed: bool) -> None:
    await graph.index_entry(db, entry, me=actor.email)
    await entity_model.request(db, [entry.id])
    await vectors.forget_vector(db, entry.id)
    if embed:
        await vectors.request_embedding(db)


async def _record_change(
    db: AsyncSession, actor: Actor, entry: MemoryEntry, change: str, *, reindex: bool, embed: bool
) -> MemoryEntry:
    """A changed entry's new version, its indexes when the content changed, and its audit."""
    entry.version += 1
    entry.updated_at = utcnow()
    db.add(_version(actor, entry, change))
    await db.flush()
    if reindex:
        await _reindex(db, actor, entry, embed)
    await _audit(db, actor, f"memory.{change}", entry)
    return entry


@audited("memory.update")
async def update_entry(
    db: AsyncSession, actor: Actor, entry_id: str, body: EntryPatchIn, *, embed: bool = False
) -> MemoryEntry:
    entry = await get(db, actor, entry_id, lock=True)
    await require_write(db, actor, entry)
    sent = body.model_fields_set
    if body.content is not None:
        _check_content(body.content)
    valid_from = body.valid_from if "valid_from" in sent and body.valid_from else entry.valid_from
    valid_to = body.valid_to if "valid_to" in sent else entry.valid_to
    _check_validity(valid_from, valid_to)
    before = state(entry)
    content_changed = body.content is not None and body.content != entry.content
    if body.content is not None:
        entry.content = body.content
    if body.category is not None:
        entry.category = body.category.value
    if body.tags is not None:
        entry.tags = list(body.tags)
    if body.importance is not None:
        entry.importance = body.importance
    entry.valid_from, entry.valid_to = valid_from, valid_to
    if state(entry) == before:
        return entry
    return await _record_change(db, actor, entry, "update", reindex=content_changed, embed=embed)


@audited("memory.delete")
async def delete_entry(db: AsyncSession, actor: Actor, entry_id: str) -> None:
    """Removes the entry from use (list, search, context, graph); its versions stay, so a
    deletion can be traced and undone. Forgetting is what erases."""
    entry = await get(db, actor, entry_id, lock=True)
    await require_write(db, actor, entry)
    entry.version += 1
    db.add(_version(actor, entry, "delete"))
    await graph.remove_for_entry(db, entry.id)
    await _audit(db, actor, "memory.delete", entry)
    await db.delete(entry)
    await db.flush()


async def versions(db: AsyncSession, actor: Actor, entry_id: str) -> list[MemoryEntryVersion]:
    await get(db, actor, entry_id)
    stmt = (
        select(MemoryEntryVersion)
        .where(MemoryEntryVersion.entry_id == entry_id)
        .order_by(MemoryEntryVersion.version.desc())
    )
    return list((await db.scalars(stmt)).all())


@audited("memory.restore")
async def restore(
    db: AsyncSession, actor: Actor, entry_id: str, version: int, *, embed: bool = False
) -> MemoryEntry:
    """Puts an earlier version's content and fields back (a new version itself)."""
    entry = await get(db, actor, entry_id, lock=True)
    await require_write(db, actor, entry)
    old = await db.scalar(
        select(MemoryEntryVersion).where(
            MemoryEntryVersion.entry_id == entry_id, MemoryEntryVersion.version == version
        )
    )
    if old is None:
        raise NotFound("No such version.", {"entryId": entry_id, "version": version})
    saved = old.state
    content_changed = saved["content"] != entry.content
    entry.content = saved["content"]
    entry.category = saved["category"]
    entry.tags = list(saved["tags"])
    entry.importance = float(saved["importance"])
    return await _record_change(db, actor, entry, "restore", reindex=content_changed, embed=embed)


@exempt("when an entry was last used: a read, not a change")
async def touch(db: AsyncSession, entry_ids: list[str]) -> None:
    """Marks entries as just used (context injection, tool reads)."""
    if entry_ids:
        await db.execute(
            update(MemoryEntry)
            .where(MemoryEntry.id.in_(entry_ids))
            .values(last_accessed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
