"""Document benchmarks, in process against a fresh SQLite database: ingestion of generated
10-page PDFs through the whole pipeline (upload with hashing and type sniffing, extraction in
the sandboxed child process, chunking, the full-text index), in pages/s, against the extraction
library called directly in this process (pypdf on the same files); and chunk search p50/p95 at
50,000 chunks through the documents search (visibility, fusion, snippets, loading the rows)
against the raw FTS query (`document_fts MATCH … ORDER BY bm25`) on the same index.

    .venv/bin/python -m bench.documents [--pdfs 200] [--chunks 50000] [--queries 200]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, text

from bench.harness import Benchmark, Row, RunContext, Target
from sophon.audit.chain import load_audit_key
from sophon.documents import fts as document_fts
from sophon.documents import pipeline
from sophon.documents import search as searching
from sophon.documents import service as documents
from sophon.documents.access import Reader
from sophon.documents.models import Document, DocumentChunk
from sophon.documents.storage import Storage
from sophon.identity.bootstrap import prepare
from sophon.memory.entries import fts
from sophon.models import metadata
from sophon.platform import migrate
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.events import build_event_bus
from sophon.platform.ids import new_id
from sophon.settings import Settings

PAGES = 10
WORDS = [f"w{n:04d}" for n in range(5000)]
CONCURRENCY = 2  # extractions at once (the machine's CPUs)
NO_TARGET = Target("max_value", float("inf"))


def _pdf(rng: random.Random) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for _ in range(PAGES):
        y = 780
        for _line in range(40):
            page.drawString(40, y, " ".join(rng.choices(WORDS, k=12)))
            y -= 18
        page.showPage()
    page.save()
    return buffer.getvalue()


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _setup(root: Path) -> tuple[Database, Settings, Reader]:
    url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
    await asyncio.to_thread(migrate.upgrade, url, metadata)
    settings = Settings(data=root / "data", database_url=url, auto_admin=False)
    settings.data.mkdir(parents=True, exist_ok=True)
    database = Database(url, build_event_bus(None), audit_key=load_audit_key(settings))
    await prepare(settings, database)
    async with database.transaction(readonly=True) as db:
        tenant = str(await db.scalar(text("SELECT id FROM tenants WHERE slug = 'default'")))
    return database, settings, Reader(tenant_id=tenant, user_id=None, manage=True)


def _baseline(pdfs: list[bytes]) -> float:
    import pypdf

    started = time.perf_counter()
    pages = 0
    for data in pdfs:
        for page in pypdf.PdfReader(io.BytesIO(data)).pages:
            page.extract_text()
            pages += 1
    return pages / (time.perf_counter() - started)


async def _ingest(
    database: Database, settings: Settings, reader: Reader, pdfs: list[bytes]
) -> float:
    storage = Storage(settings.data)
    started = time.perf_counter()
    async with database.transaction(tenant_id=reader.tenant_id) as db:
        files = [documents.Incoming(f"doc{i}.pdf", None, io.BytesIO(d)) for i, d in enumerate(pdfs)]
        stored = []
        for at in range(0, len(files), documents.MAX_FILES):
            part = files[at : at + documents.MAX_FILES]
            stored += await documents.upload(
                db, reader, storage, part, documents.UploadOptions(tags=[])
            )
        ids = [u.document.id for u in stored]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(doc_id: str) -> str:
        async with gate:
            return await pipeline.ingest(database, storage, settings, reader.tenant_id, doc_id)

    statuses = await asyncio.gather(*(one(i) for i in ids))
    elapsed = time.perf_counter() - started
    if set(statuses) != {"Ready"}:
        raise RuntimeError(f"ingestion ended {set(statuses)}")
    return len(pdfs) * PAGES / elapsed


async def _fill_chunks(database: Database, reader: Reader, rng: random.Random, count: int) -> None:
    now = utcnow()
    per_doc = 500
    async with database.transaction(tenant_id=reader.tenant_id) as db:
        for start in range(0, count, per_doc):
            doc_id = new_id("doc")
            await db.execute(
                insert(Document).values(
                    id=doc_id, tenant_id=reader.tenant_id, name=f"{doc_id}.txt",
                    mime_type="text/plain", format="text", size=1, sha256="0" * 64,
                    status="Ready", notes=[], tags=[], visibility="tenant",
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
            rows = [
                {
                    "id": new_id("chk"), "tenant_id": reader.tenant_id, "document_id": doc_id,
                    "seq": n, "page": 1 + n // 10, "start": n * 1000, "end": n * 1000 + 900,
                    "heading": None, "content": " ".join(rng.choices(WORDS, k=150)),
                }
                for n in range(min(per_doc, count - start))
            ]  # fmt: skip
            await db.execute(insert(DocumentChunk), rows)


async def _search(
    database: Database, reader: Reader, queries: list[str]
) -> tuple[list[float], list[float]]:
    service: list[float] = []
    raw: list[float] = []
    name = document_fts.PREFIX
    for query in queries:
        async with database.transaction(readonly=True, tenant_id=reader.tenant_id) as db:
            started = time.perf_counter()
            await searching.search(db, reader, query, 10)
            service.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await db.execute(
                text(
                    f"SELECT rowid FROM {name} WHERE {name} MATCH :m "  # noqa: S608
                    f"ORDER BY bm25({name}) LIMIT 10"
                ).bindparams(m=fts.fts5_match(fts.terms(query)))
            )
            raw.append((time.perf_counter() - started) * 1000)
    return service, raw


async def measure(
    pdf_count: int, chunks: int, queries: int, say: Callable[[str], None]
) -> list[Row]:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="sophon-bench-documents-") as tmp:
        database, settings, reader = await _setup(Path(tmp))
        try:
            say(f"documents: generating {pdf_count} PDFs of {PAGES} pages …")
            pdfs = [_pdf(rng) for _ in range(pdf_count)]
            say("documents: pypdf directly (baseline) …")
            direct = await asyncio.to_thread(_baseline, pdfs)
            say(f"documents: ingesting {pdf_count} PDFs through the pipeline …")
            pipeline_rate = await _ingest(database, settings, reader, pdfs)
            say(f"documents: adding chunks up to {chunks} …")
            async with database.transaction(readonly=True) as db:
                have = int(await db.scalar(text("SELECT count(*) FROM document_chunks")))
            await _fill_chunks(database, reader, rng, max(chunks - have, 0))
            say(f"documents: {queries} searches at {chunks} chunks …")
            qs = [" ".join(rng.choices(WORDS, k=rng.randint(1, 3))) for _ in range(queries)]
            service, raw = await _search(database, reader, qs)
        finally:
            await database.close()
    rows = [
        Row(
            benchmark="documents",
            metric=f"ingestion, {pdf_count} PDFs x {PAGES} pages",
            unit="ms/page",
            project=1000 / pipeline_rate,
            baseline=1000 / direct,
            target=NO_TARGET,
            details=(f"{pipeline_rate:,.1f} pages/s through the pipeline vs {direct:,.1f} "
                     "pages/s with pypdf in process",),
        )
    ]  # fmt: skip
    for label, q in (("p50", 0.5), ("p95", 0.95)):
        rows.append(
            Row(
                benchmark="documents",
                metric=f"chunk search {label} at {chunks // 1000}k",
                unit="ms",
                project=_pct(service, q),
                baseline=_pct(raw, q),
                target=NO_TARGET,
                details=(f"median of {len(service)}: {statistics.median(service):.2f} ms",),
            )
        )
    return rows


def run(ctx: RunContext) -> list[Row]:
    # a short --duration (below 3 s) scales the run down to keep it well under a minute
    if ctx.duration >= 3:
        return asyncio.run(measure(200, 50_000, 200, ctx.say))
    return asyncio.run(measure(20, 10_000, 100, ctx.say))


BENCHMARK = Benchmark(
    name="documents",
    summary="PDF ingestion pages/s through the pipeline vs pypdf, chunk search p95 at 50k",
    run=run,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__)
    parser.add_argument("--pdfs", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    rows = asyncio.run(
        measure(args.pdfs, args.chunks, max(args.queries, 20), lambda m: print(m, file=sys.stderr))
    )
    for row in rows:
        print(f"{row.metric}: {row.project:.3f} vs {row.baseline:.3f} {row.unit} "
              f"(ratio {row.project / row.baseline:.2f}); {'; '.join(row.details)}")  # fmt: skip


if __name__ == "__main__":
    main()
