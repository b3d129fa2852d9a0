"""Memory benchmarks, in process against a fresh database: batch ingestion rate through the
memory service (versions, audit, entity graph and full-text index included) against raw inserts
into the same table, and lexical search p50/p95 at 10k and 100k entries through the service
(visibility filter, ranking, snippets, loading the rows) against the raw full-text query on the
same index; on SQLite also hybrid search (lexical fused with the sqlite-vec index) with a fast
hashing embedder standing in for a model, against lexical search alone. SQLite always;
PostgreSQL too when `SOPHON_TEST_PG` (or the default local server) answers.

    .venv/bin/python -m bench.memory [--sizes 10000,100000] [--queries 200] [--no-pg]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bench.harness import (
    Benchmark,
    Row,
    RunContext,
    Target,
    create_pg_database,
    drop_pg_database,
    on_each_database,
    percentile,
)
from sophon.audit.chain import load_audit_key
from sophon.identity.bootstrap import prepare
from sophon.memory.entries import fts
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.entries.service import EntryFilter
from sophon.memory.schemas import EntryIn
from sophon.memory.search import service as searching
from sophon.memory.search import vector_index, vectors
from sophon.models import metadata
from sophon.platform import migrate
from sophon.platform.db import Database
from sophon.settings import Settings

BATCH = 500
_PG_NAME = f"sophon_bench_{os.getpid()}"
INGEST_TARGET = Target("max_value", 1 / 2000 * 1000)  # ms per entry: >= 2,000 entries/s
SEARCH_TARGET = Target("max_value", 10.0)  # p95 ms at 100k on SQLite
WORDS = [f"w{n:04d}" for n in range(5000)]
NAMES = ["Alice Smith", "Bob Jones", "Acme Corp", "Globex Inc", "Lisbon", "Project Apollo"]


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 30), weights=None)
    if rng.random() < 0.3:
        words.insert(rng.randint(0, len(words)), rng.choice(NAMES))
    return " ".join(words) + "."


def _query(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(1, 3)))


async def _tenant(database: Database) -> str:
    async with database.transaction(readonly=True) as db:
        return str(await db.scalar(text("SELECT id FROM tenants WHERE slug = 'default'")))


async def _ingest(database: Database, actor: Actor, rng: random.Random, count: int) -> float:
    """Seconds to ingest `count` entries through the service, in batches."""
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        bodies = [EntryIn(content=_sentence(rng)) for _ in range(min(BATCH, count - start))]
        async with database.transaction(tenant_id=actor.tenant_id) as db:
            await entries.create_many(db, actor, bodies)
    return time.perf_counter() - started


async def _raw_ingest(database: Database, tenant: str, rng: random.Random, count: int) -> float:
    """Seconds for plain multi-row inserts into the same table (index triggers included)."""
    from sophon.memory.models import MemoryEntry, table_of
    from sophon.platform.clock import utcnow
    from sophon.platform.ids import new_id

    table = table_of(MemoryEntry)
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        now = utcnow()
        rows = [
            {
                "id": new_id("mem"), "tenant_id": tenant, "content": _sentence(rng),
                "category": "fact", "scope": "user", "tags": [], "importance": 0.5,
                "source_type": "import", "valid_from": now, "version": 1, "created_at": now,
                "updated_at": now,
            }
            for _ in range(min(BATCH, count - start))
        ]  # fmt: skip
        async with database.transaction(tenant_id=tenant) as db:
            await db.execute(table.insert(), rows)
    return time.perf_counter() - started


DIMS = 64


class HashEmbedder:
    """Words hashed into `DIMS` buckets: no model, but texts sharing words land near."""

    model = "bench-hash"

    async def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text_ in texts:
            vector = [0.0] * DIMS
            for word in fts.terms(text_):
                vector[zlib.crc32(word.encode()) % DIMS] += 1.0
            out.append(vector)
        return out


async def _embed_all(database: Database, tenant: str) -> None:
    """Vectors for every entry that has none, by bulk insert (the index triggers fill vec0)."""
    from sophon.memory.models import MemoryEmbedding, MemoryEntry, table_of

    engine = HashEmbedder()
    async with database.transaction(tenant_id=tenant) as db:
        await vector_index.ensure(db, DIMS)
        done = select(MemoryEmbedding.entry_id).scalar_subquery()
        todo = (
            await db.execute(
                select(MemoryEntry.id, MemoryEntry.content).where(MemoryEntry.id.not_in(done))
            )
        ).all()
    for start in range(0, len(todo), 2000):
        chunk = todo[start : start + 2000]
        vecs = await engine.embed([content for _, content in chunk])
        rows = [
            {"entry_id": entry_id, "tenant_id": tenant, "model": engine.model, "dims": DIMS,
             "vector": vectors.pack(v), "content_sha": vectors.sha(content)}
            for (entry_id, content), v in zip(chunk, vecs, strict=True)
        ]  # fmt: skip
        async with database.transaction(tenant_id=tenant) as db:
            await db.execute(table_of(MemoryEmbedding).insert(), rows)


async def _hybrid_samples(database: Database, actor: Actor, queries: list[str]) -> list[float]:
    nearest = vectors.searcher(HashEmbedder())

    async def hybrid(query: str) -> None:
        async with database.transaction(readonly=True, tenant_id=actor.tenant_id) as db:
            _hits, mode = await searching.search(db, actor, query, EntryFilter(), 10, nearest)
            assert mode == "hybrid"

    await _timed(queries[:10], hybrid)
    return await _timed(queries[10:], hybrid)


async def _timed(queries: list[str], call: Callable[[str], Awaitable[Any]]) -> list[float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        await call(query)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _search_samples(
    database: Database, actor: Actor, queries: list[str]
) -> tuple[list[float], list[float]]:
    dialect = database.dialect

    async def service(query: str) -> None:
        async with database.transaction(readonly=True, tenant_id=actor.tenant_id) as db:
            await searching.search(db, actor, query, EntryFilter(), 10)

    async def raw(query: str) -> None:
        words = fts.terms(query)
        async with database.transaction(readonly=True, tenant_id=actor.tenant_id) as db:
            if dialect == "sqlite":
                sql = (
                    "SELECT rowid FROM memory_fts WHERE memory_fts MATCH :q "
                    "ORDER BY bm25(memory_fts) LIMIT 10"
                )
                await db.execute(text(sql), {"q": fts.fts5_match(words)})
            else:
                sql = (
                    "SELECT num FROM memory_entries WHERE to_tsvector('english', content) @@ "
                    "to_tsquery('english', :q) ORDER BY ts_rank_cd(to_tsvector('english', "
                    "content), to_tsquery('english', :q)) DESC LIMIT 10"
                )
                await db.execute(text(sql), {"q": fts.tsquery(words)})

    warm, measured = queries[:10], queries[10:]
    await _timed(warm, service)  # warm caches and prepared statements
    await _timed(warm, raw)
    return await _timed(measured, service), await _timed(measured, raw)


async def _database(kind: str, root: Path) -> tuple[Database, Settings]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
    else:
        url = await create_pg_database(_PG_NAME)
    await asyncio.to_thread(migrate.upgrade, url, metadata)
    settings = Settings(data=root / "data", database_url=url, auto_admin=False)
    settings.data.mkdir(parents=True, exist_ok=True)
    database = Database(url, audit_key=load_audit_key(settings))  # entries are audited
    await prepare(settings, database)
    return database, settings


async def measure(
    kind: str, sizes: list[int], queries: int, say: Callable[[str], None]
) -> list[Row]:
    rng = random.Random(7)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sophon-bench-memory-") as tmp:
        database, _settings = await _database(kind, Path(tmp))
        try:
            tenant = await _tenant(database)
            actor = Actor(tenant_id=tenant, user_id=None, email=None, manage=True)
            have = 0
            ingest_rate = raw_rate = 0.0
            for size in sizes:
                add = size - have
                say(f"{kind}: ingesting {add // 2} entries (service) …")
                service_s = await _ingest(database, actor, rng, add // 2)
                say(f"{kind}: ingesting {add - add // 2} entries (raw inserts) …")
                raw_s = await _raw_ingest(database, tenant, rng, add - add // 2)
                if not ingest_rate:
                    ingest_rate, raw_rate = (add // 2) / service_s, (add - add // 2) / raw_s
                have = size
                say(f"{kind}: {queries} searches at {size} entries …")
                qs = [_query(rng) for _ in range(queries)]
                service, raw = await _search_samples(database, actor, qs)
                if kind == "sqlite":
                    say(f"{kind}: embedding, then {queries} hybrid searches at {size} entries …")
                    await _embed_all(database, tenant)
                    hybrid = await _hybrid_samples(database, actor, qs)
                    rows.append(
                        Row(
                            benchmark=f"memory-{kind}",
                            metric=f"hybrid search p95 at {size // 1000}k",
                            unit="ms",
                            project=percentile(hybrid, 0.95),
                            baseline=percentile(service, 0.95),
                            target=Target("max_value", float("inf")),
                            details=(f"baseline: lexical alone; median "
                                     f"{statistics.median(hybrid):.2f} ms",),
                        )
                    )  # fmt: skip
                for label, q in (("p50", 0.5), ("p95", 0.95)):
                    rows.append(
                        Row(
                            benchmark=f"memory-{kind}",
                            metric=f"lexical search {label} at {size // 1000}k",
                            unit="ms",
                            project=percentile(service, q),
                            baseline=percentile(raw, q),
                            target=SEARCH_TARGET
                            if kind == "sqlite" and label == "p95" and size >= 100_000
                            else Target("max_value", float("inf")),
                            details=(f"median of {len(service)} queries: "
                                     f"{statistics.median(service):.2f} ms",),
                        )
                    )  # fmt: skip
            rows.insert(
                0,
                Row(
                    benchmark=f"memory-{kind}",
                    metric=f"ingestion, batches of {BATCH}",
                    unit="ms/entry",
                    project=1000 / ingest_rate,
                    baseline=1000 / raw_rate,
                    target=INGEST_TARGET,
                    details=(f"{ingest_rate:,.0f} entries/s vs raw {raw_rate:,.0f} rows/s",),
                ),
            )
        finally:
            await database.close()
            if kind == "postgresql":
                await drop_pg_database(_PG_NAME)
    return rows


def run_all(sizes: list[int], queries: int, pg: bool, say: Callable[[str], None]) -> list[Row]:
    return on_each_database(lambda kind: measure(kind, sizes, queries, say), pg)


def run(ctx: RunContext) -> list[Row]:
    return run_all([10_000, 100_000], 200, True, ctx.say)


BENCHMARK = Benchmark(
    name="memory",
    summary="memory ingestion rate, lexical (and on SQLite hybrid) search at 10k/100k entries",
    run=run,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rows = run_all(
        sizes, max(args.queries, 20), not args.no_pg, lambda m: print(m, file=sys.stderr)
    )
    print(f"{'benchmark':18} {'metric':36} {'project':>10} {'baseline':>10} {'ratio':>7}  target")
    for row in rows:
        verdict = "met" if row.met else "MISSED"
        limit = "" if row.target.limit == float("inf") else row.target.describe(row.unit)
        print(
            f"{row.benchmark:18} {row.metric:36} {row.project:10.3f} {row.baseline:10.3f} "
            f"{row.ratio:7.2f}  {limit} {verdict if limit else ''}  {'; '.join(row.details)}"
        )


if __name__ == "__main__":
    main()
