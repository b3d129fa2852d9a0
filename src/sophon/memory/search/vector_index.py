"""The sqlite-vec index of memory vectors: one `vec0` table per dimension count, partitioned by
tenant, filled and emptied by triggers on `memory_embeddings`, so every path that writes or
deletes a vector (the embed job, an edit, forgetting, a cascade from a deleted entry) keeps it
in step without knowing about it. Created on first use, because the dimension count is the
embedding model's. Object names start with `memory_vec` (left out of schema comparisons)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ScalarSelect, Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory.models import MemoryEntry, table_of
from sophon.platform import sqlite_driver

PREFIX = "memory_vec"
K_MAX = 4096  # sqlite-vec's largest k; past it the caller scans exactly
K_START = 64
OVERFETCH = 4  # candidates asked per wanted hit, before filtering by visibility


def usable(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "sqlite" and sqlite_driver.vector_extension_available()


@dataclass(frozen=True)
class VecTable:
    """Which vectors an index mirrors: `source` (a table with `<key>, tenant_id, model, dims,
    vector`) into `vec0` tables named `<prefix>_<dims>`. Memory's by default; document chunks
    use one of their own (`documents.vectors`)."""

    prefix: str
    source: str
    key: str


MEMORY = VecTable(PREFIX, "memory_embeddings", "entry_id")


def _name(dims: int, spec: VecTable = MEMORY) -> str:
    return f"{spec.prefix}_{int(dims)}"


def _ddl(name: str, dims: int, spec: VecTable = MEMORY) -> list[str]:
    # identifiers and sizes here come from code and an int, never from input: no injection
    src, key = spec.source, spec.key
    mirror = f"INSERT INTO {name}({key}, tenant_id, model, embedding)"
    return [
        f"CREATE VIRTUAL TABLE {name} USING vec0({key} text primary key, "
        f"tenant_id text partition key, model text, embedding float[{dims}] "
        "distance_metric=cosine)",
        f"CREATE TRIGGER {name}_ai AFTER INSERT ON {src} WHEN new.dims = {dims} "  # noqa: S608
        f"BEGIN {mirror} VALUES (new.{key}, new.tenant_id, new.model, new.vector); END",
        f"CREATE TRIGGER {name}_ad AFTER DELETE ON {src} WHEN old.dims = {dims} "  # noqa: S608
        f"BEGIN DELETE FROM {name} WHERE {key} = old.{key}; END",
        f"{mirror} SELECT {key}, tenant_id, model, vector "  # noqa: S608
        f"FROM {src} WHERE dims = {dims}",
    ]


async def _exists(db: AsyncSession, name: str) -> bool:
    found = await db.scalar(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n").bindparams(n=name)
    )
    return bool(found)


async def ensure(db: AsyncSession, dims: int, spec: VecTable = MEMORY) -> None:
    """Creates the index for `dims` (and back-fills it from stored vectors) if it is missing."""
    name = _name(dims, spec)
    if await _exists(db, name):
        return
    for statement in _ddl(name, int(dims), spec):
        await db.execute(text(statement))


async def knn(
    db: AsyncSession, spec: VecTable, tenant_id: str, model: str, query: bytes, dims: int, k: int
) -> list[str] | None:
    """The ids of the tenant's `k` nearest vectors (at most `K_MAX`), nearest first; None when
    the index for `dims` does not exist."""
    name = _name(dims, spec)
    if not await _exists(db, name):
        return None
    stmt = text(
        f"SELECT {spec.key} FROM {name} WHERE embedding MATCH :q AND k = :k "  # noqa: S608
        "AND tenant_id = :tenant AND model = :model ORDER BY distance"
    ).bindparams(q=query, k=min(k, K_MAX), tenant=tenant_id, model=model)
    return [str(i) for i in (await db.scalars(stmt)).all()]


async def nearest(
    db: AsyncSession,
    base: Select[Any],
    tenant_id: str,
    model: str,
    query: bytes,
    dims: int,
    k: int,
) -> list[str] | None:
    """The `k` nearest entries of `base` (visible ones only), nearest first. The index knows
    tenants but not visibility, so it is asked for more than `k` and the answer filtered, asking
    again for more while too few survive. None when the index cannot answer (missing, or the
    visible nearest lie beyond `K_MAX`): the caller scans exactly."""
    ask = max(K_START, k * OVERFETCH)
    while True:
        candidates = await knn(db, MEMORY, tenant_id, model, query, dims, ask)
        if candidates is None:
            return None
        kept = await _visible(db, base, candidates)
        if len(kept) >= k or len(candidates) < min(ask, K_MAX):
            return kept[:k]  # enough, or the tenant has no more vectors to offer
        if ask >= K_MAX:
            return None
        ask *= 4


def nums_of(entry_ids: Sequence[str]) -> ScalarSelect[int]:
    """`num IN (this)` finds entries by id quickly. SQLite without statistics would rather
    scan the tenant's whole index than look up a list of ids, but it looks rows up by rowid;
    the inner select is Core (no tenant criteria), so it uses the unique index on `id`."""
    table = table_of(MemoryEntry).alias("by_id")
    return select(table.c.num).where(table.c.id.in_(entry_ids)).scalar_subquery()


async def _visible(db: AsyncSession, base: Select[Any], candidates: Sequence[str]) -> list[str]:
    if not candidates:
        return []
    # valid_from is selected only so no index covers the query (see `nums_of`)
    rows = await db.execute(
        base.with_only_columns(MemoryEntry.id, MemoryEntry.valid_from).where(
            MemoryEntry.num.in_(nums_of(candidates))
        )
    )
    allowed = {entry_id for entry_id, _ in rows.all()}
    return [c for c in candidates if c in allowed]
