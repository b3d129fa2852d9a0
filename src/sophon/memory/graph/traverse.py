"""Walking the entity graph from one entity to a depth, through the relations and shared
mentions of entries the caller may see (`GET /memory/graph`, `memory.traverse`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sophon.memory.entries.access import Actor, visible
from sophon.memory.graph.service import key
from sophon.memory.models import MemoryEntity, MemoryEntityLink, MemoryEntry, MemoryRelation
from sophon.platform.errors import NotFound
from sophon.platform.ids import ID_PATTERN

MAX_NODES = 500
CO_MENTION = "mentioned_with"


@dataclass(frozen=True)
class Edge:
    id: str
    subject: str
    predicate: str
    object: str
    valid_from: datetime
    valid_to: datetime | None
    source_entry_id: str


@dataclass
class Graph:
    nodes: dict[str, tuple[MemoryEntity, int]] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)


def _visible_ids(actor: Actor) -> ScalarSelect[str]:
    return visible(actor).with_only_columns(MemoryEntry.id).scalar_subquery()


async def find_entity(db: AsyncSession, actor: Actor, ref: str) -> MemoryEntity:
    """An entity by id or by name (case-insensitive), among those the caller's entries
    mention; 404 otherwise."""
    mentioned = select(MemoryEntityLink.entity_id).where(
        MemoryEntityLink.entry_id.in_(_visible_ids(actor))
    )
    stmt = select(MemoryEntity).where(MemoryEntity.id.in_(mentioned))
    if ID_PATTERN.match(ref) and ref.startswith("ent_"):
        stmt = stmt.where(MemoryEntity.id == ref)
    else:
        stmt = stmt.where(MemoryEntity.name_key == key(ref)).order_by(MemoryEntity.id)
    entity = (await db.scalars(stmt.limit(1))).first()
    if entity is None:
        raise NotFound("No such entity in your memories.", {"entity": ref})
    return entity


def _valid_at(
    at: datetime | None,
    start: InstrumentedAttribute[datetime],
    end: InstrumentedAttribute[datetime | None],
) -> ColumnElement[bool]:
    if at is None:
        return true()
    return and_(start <= at, or_(end.is_(None), end > at))


async def traverse(
    db: AsyncSession, actor: Actor, ref: str, depth: int, at: datetime | None = None
) -> Graph:
    start = await find_entity(db, actor, ref)
    graph = Graph(nodes={start.id: (start, 0)})
    frontier = {start.id}
    seen_ids = _visible_ids(actor)
    for level in range(1, depth + 1):
        if not frontier or len(graph.nodes) >= MAX_NODES:
            break
        neighbours: set[str] = set()
        relations = await db.scalars(
            select(MemoryRelation).where(
                or_(
                    MemoryRelation.subject_id.in_(frontier),
                    MemoryRelation.object_id.in_(frontier),
                ),
                MemoryRelation.source_entry_id.in_(seen_ids),
                _valid_at(at, MemoryRelation.valid_from, MemoryRelation.valid_to),
            )
        )
        for rel in relations:
            graph.edges[rel.id] = Edge(
                rel.id,
                rel.subject_id,
                rel.predicate,
                rel.object_id,
                rel.valid_from,
                rel.valid_to,
                rel.source_entry_id,
            )
            neighbours |= {rel.subject_id, rel.object_id}
        neighbours |= await _co_mentions(db, graph, frontier, seen_ids, at)
        fresh = [n for n in neighbours if n not in graph.nodes]
        fresh = fresh[: MAX_NODES - len(graph.nodes)]
        if fresh:
            rows = await db.scalars(select(MemoryEntity).where(MemoryEntity.id.in_(fresh)))
            for entity in rows:
                graph.nodes[entity.id] = (entity, level)
        frontier = set(fresh)
    graph.edges = {
        i: e for i, e in graph.edges.items() if e.subject in graph.nodes and e.object in graph.nodes
    }
    return graph


async def _co_mentions(
    db: AsyncSession,
    graph: Graph,
    frontier: set[str],
    seen_ids: ScalarSelect[str],
    at: datetime | None,
) -> set[str]:
    """Entities mentioned in the same entry as a frontier entity: an undirected edge each."""
    mine = MemoryEntityLink
    rows = await db.execute(
        select(mine.entity_id, mine.entry_id, MemoryEntry.valid_from, MemoryEntry.valid_to)
        .join(MemoryEntry, MemoryEntry.id == mine.entry_id)
        .where(
            mine.entity_id.in_(frontier),
            mine.entry_id.in_(seen_ids),
            _valid_at(at, MemoryEntry.valid_from, MemoryEntry.valid_to),
        )
        .limit(MAX_NODES)
    )
    by_entry: dict[str, tuple[list[str], datetime, datetime | None]] = {}
    for entity_id, entry_id, start, end in rows.all():
        by_entry.setdefault(entry_id, ([], start, end))[0].append(entity_id)
    if not by_entry:
        return set()
    others = await db.execute(
        select(mine.entry_id, mine.entity_id).where(mine.entry_id.in_(list(by_entry)))
    )
    found: set[str] = set()
    for entry_id, other in others.all():
        sources, start, end = by_entry[entry_id]
        for source in sources:
            if other == source:
                continue
            a, b = sorted((source, other))
            edge_id = f"{CO_MENTION}:{entry_id}:{a}:{b}"
            graph.edges[edge_id] = Edge(edge_id, a, CO_MENTION, b, start, end, entry_id)
            found.add(other)
    return found
