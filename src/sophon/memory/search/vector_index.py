"""The sqlite-vec index of memory vectors: one `vec0` table per dimension count, partitioned by
tenant, filled and emptied by triggers on `memory_embeddings`, so every path that writes or
deletes a vector (the embed job, an edit, forgetting, a cascade from a deleted entry) keeps it
in step without knowing about it. Created on first use, because the dimension count is the
embedding model's. Object names start with `memory_vec` (left out of schema comparisons)."""

from __future__ import annotations

from collections.abc import Sequence
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


def _name(dims: int) -> str:
    return f"{PREFIX}_{int(dims)}"


def _ddl(name: str, dims: int) -> list[str]:
    # identifiers and sizes here come from an int, never from input: no injection possible
    mirror = f"INSERT INTO {name}(entry_id, tenant_id, model, embedding)"
    return [
        f"CREATE VIRTUAL TABLE {name} USING vec0(entry_id text primary key, "
        f"tenant_id text partition key, model text, embedding float[{dims}] "
        "distance_metric=cosine)",
        f"CREATE TRIGGER {name}_ai AFTER INSERT ON memory_embeddings WHEN new.dims = {dims} "  # noqa: S608
        f"BEGIN {mirror} VALUES (new.entry_id, new.tenant_id, new.model, new.vector); END",
        f"CREATE TRIGGER {name}_ad AFTER DELETE ON memory_embeddings WHEN old.dims = {dims} "  # noqa: S608
        f"BEGIN DELETE FROM {name} WHERE entry_id = old.entry_id; END",
        f"{mirror} SELECT entry_id, tenant_id, model, vector "  # noqa: S608
        f"FROM memory_embeddings WHERE dims = {dims}",
    ]


async def ensure(db: AsyncSession, dims: int) -> None:
    """Creates the index for `dims` (and back-fills it from stored vectors) if it is missing."""
    name = _name(dims)
    found = await db.scalar(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n").bindparams(n=name)
    )
    if found:
        return
    for statement in _ddl(name, int(dims)):
        await db.execute(text(statement))


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
    name = _name(dims)
    exists = await db.scalar(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n").bindparams(n=name)
    )
    if not exists:
        return None
    ask = max(K_START, k * OVERFETCH)
    while True:
        knn = text(
            f"SELECT entry_id FROM {name} WHERE embedding MATCH :q AND k = :k "  # noqa: S608
            "AND tenant_id = :tenant AND model = :model ORDER BY distance"
        ).bindparams(q=query, k=min(ask, K_MAX), tenant=tenant_id, model=model)
        candidates = [str(i) for i in (await db.scalars(knn)).all()]
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
