"""Memory rows into their wire shapes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory.graph import service as graph
from sophon.memory.graph.traverse import Graph
from sophon.memory.models import MemoryEntity, MemoryEntry, MemoryEntryVersion
from sophon.memory.schemas import (
    EntityRef,
    EntityType,
    EntryOut,
    EntryVersionOut,
    GraphEdge,
    GraphNode,
    GraphOut,
    SourceOut,
    SourceType,
)


def _entity(entity: MemoryEntity) -> EntityRef:
    return EntityRef(id=entity.id, name=entity.name, type=EntityType(entity.type))


def entry_out(entry: MemoryEntry, entities: list[MemoryEntity]) -> EntryOut:
    return EntryOut(
        id=entry.id,
        content=entry.content,
        category=entry.category,
        scope=entry.scope,
        agent_id=entry.agent_id,
        user_id=entry.user_id,
        tags=list(entry.tags),
        importance=entry.importance,
        source=SourceOut(
            type=SourceType(entry.source_type),
            session_id=entry.source_session_id,
            message_id=entry.source_message_id,
        ),
        entities=[_entity(e) for e in entities],
        version=entry.version,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        last_accessed_at=entry.last_accessed_at,
    )


async def entries_out(db: AsyncSession, entries: list[MemoryEntry]) -> list[EntryOut]:
    """Entries with their entities, in two queries for the whole list."""
    linked = await graph.entities_by_entry(db, [e.id for e in entries])
    return [entry_out(e, linked.get(e.id, [])) for e in entries]


async def one_out(db: AsyncSession, entry: MemoryEntry) -> EntryOut:
    return (await entries_out(db, [entry]))[0]


def version_out(row: MemoryEntryVersion) -> EntryVersionOut:
    return EntryVersionOut(
        version=row.version,
        change=row.change,
        content=row.state["content"],
        category=row.state["category"],
        tags=list(row.state["tags"]),
        importance=float(row.state["importance"]),
        actor=dict(row.actor),
        created_at=row.created_at,
    )


def graph_out(found: Graph) -> GraphOut:
    nodes = [
        GraphNode(id=e.id, name=e.name, type=EntityType(e.type), depth=depth)
        for e, depth in sorted(found.nodes.values(), key=lambda n: (n[1], n[0].name))
    ]
    edges = [
        GraphEdge(
            id=e.id,
            subject=e.subject,
            predicate=e.predicate,
            object=e.object,
            valid_from=e.valid_from,
            valid_to=e.valid_to,
            source_entry_id=e.source_entry_id,
        )
        for e in sorted(found.edges.values(), key=lambda e: (e.valid_from, e.id))
    ]
    return GraphOut(nodes=nodes, edges=edges)
