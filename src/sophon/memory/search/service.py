"""Ranked memory search: a lexical list (SQLite FTS5 bm25 / PostgreSQL `ts_rank_cd`), and a
vector list when embeddings are configured, fused by reciprocal rank, then adjusted mildly for
importance, recency and whether the entry is still valid. Results carry highlighted snippets."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, func, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit.marks import exempt
from sophon.memory.entries import fts
from sophon.memory.entries.access import Actor
from sophon.memory.entries.service import EntryFilter, listing
from sophon.memory.models import MemoryEntry
from sophon.memory.search.vector_index import nums_of
from sophon.platform.clock import utcnow

if TYPE_CHECKING:
    from sophon.memory.search.vectors import VectorSearch

RRF_K = 20  # steeper than the usual 60: list position should outweigh the mild adjustments
HALF_LIFE_DAYS = 30.0
OPEN, CLOSE = "\ue000", "\ue001"  # private-use markers, turned into <mark> after escaping
SNIPPET_WORDS = 24
OVERFETCH = 3  # FTS5 candidates per wanted hit before the visibility filter
REGCONFIG: ColumnElement[Any] = literal_column(f"'{fts.TS_CONFIG}'::regconfig")
HEADLINE = f"StartSel={OPEN}, StopSel={CLOSE}, MaxWords=30, MinWords=12, MaxFragments=2"


@dataclass
class Hit:
    entry: MemoryEntry
    score: float = 0.0
    snippet: str = ""
    matched: list[str] = field(default_factory=list)


def render_snippet(raw: str) -> str:
    return html.escape(raw).replace(OPEN, "<mark>").replace(CLOSE, "</mark>")


def _plain_snippet(content: str) -> str:
    words = content.split()
    cut = " ".join(words[:SNIPPET_WORDS])
    return cut + (" …" if len(words) > SNIPPET_WORDS else "")


async def lexical(
    db: AsyncSession, base: Select[Any], words: list[str], limit: int
) -> list[tuple[MemoryEntry, str]]:
    """The best `limit` entries of `base` matching any of `words`, best first, with snippets."""
    if not words:
        return []
    if db.get_bind().dialect.name == "sqlite":
        return await _lexical_sqlite(db, base, words, limit)
    query = func.to_tsquery(REGCONFIG, fts.tsquery(words))
    vector = func.to_tsvector(REGCONFIG, MemoryEntry.content)
    snippet = func.ts_headline(REGCONFIG, MemoryEntry.content, query, HEADLINE)
    stmt = (
        base.add_columns(snippet)
        .where(vector.op("@@")(query))
        .order_by(func.ts_rank_cd(vector, query).desc(), MemoryEntry.id)
    )
    rows = await db.execute(stmt.limit(limit))
    return [(entry, str(snip or "")) for entry, snip in rows.all()]


async def _lexical_sqlite(
    db: AsyncSession, base: Select[Any], words: list[str], limit: int
) -> list[tuple[MemoryEntry, str]]:
    # rank inside FTS5 alone (no join: a row lookup per match costs more than the ranking), ask
    # for more than needed and keep the visible ones; only when too few survive (other tenants'
    # or users' entries crowd the top) rank again over the visible join. Snippets are cut later,
    # in Python, for the hits that make the page (asking FTS5 again would cost more)
    match = fts.fts5_match(words)
    wanted = limit * OVERFETCH
    ranked = await db.scalars(
        text(
            "SELECT rowid FROM memory_fts WHERE memory_fts MATCH :match "
            "ORDER BY bm25(memory_fts) LIMIT :n"
        ).bindparams(match=match, n=wanted)
    )
    candidates = list(ranked.all())
    # most often the best few are all visible: load those at once, look further only if not
    loaded = await _load(db, base, candidates[:limit])
    if len(loaded) < limit and len(candidates) > limit:
        rest = candidates[limit:]
        # valid_from only so no index covers the query (SQLite would scan the tenant's index)
        narrow = base.with_only_columns(MemoryEntry.num, MemoryEntry.valid_from)
        allowed = {n for n, _ in (await db.execute(narrow.where(MemoryEntry.num.in_(rest)))).all()}
        more = [n for n in rest if n in allowed][: limit - len(loaded)]
        loaded.update(await _load(db, base, more))
    order = [n for n in candidates if n in loaded][:limit]
    if len(order) < limit and len(candidates) == wanted:
        rank = func.bm25(literal_column("memory_fts")).label("rank")
        rows = await db.execute(
            base.with_only_columns(MemoryEntry.num, rank)
            .join(fts.fts_table, fts.fts_table.c.rowid == MemoryEntry.num)
            .where(text("memory_fts MATCH :match").bindparams(match=match))
            .order_by(rank)
            .limit(limit)
        )
        order = [num for num, _score in rows.all()]
        loaded = await _load(db, base, order)
    return [(loaded[n], "") for n in order if n in loaded]


async def _load(db: AsyncSession, base: Select[Any], nums: list[int]) -> dict[int, MemoryEntry]:
    if not nums:
        return {}
    return {e.num: e for e in await db.scalars(base.where(MemoryEntry.num.in_(nums)))}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


_EDGES = re.compile(r"^(\W*)(.*?)(\W*)$", re.S)


def highlight(content: str, words: list[str]) -> str:
    """The `SNIPPET_WORDS`-word window with the most query words, those marked (as FTS5's
    porter stemmer would match them, approximately)."""
    stems = tuple({_stem(w) for w in words})
    tokens = content.split()
    parts = [_EDGES.match(t).groups() for t in tokens]  # type: ignore[union-attr]
    hits = [bool(core) and _stem(core.lower()).startswith(stems) for _, core, _ in parts]
    count = best = sum(hits[:SNIPPET_WORDS])
    start = 0
    for i in range(1, max(len(tokens) - SNIPPET_WORDS, 0) + 1):  # a sliding window's sum
        count += hits[i + SNIPPET_WORDS - 1] - hits[i - 1]
        if count > best:
            best, start = count, i
    stop = min(start + SNIPPET_WORDS, len(tokens))
    shown = []
    for i in range(start, stop):
        lead, core, trail = parts[i]
        shown.append(f"{lead}{OPEN}{core}{CLOSE}{trail}" if hits[i] else tokens[i])
    return ("… " if start else "") + " ".join(shown) + (" …" if stop < len(tokens) else "")


def fuse(ranked: list[list[str]]) -> dict[str, float]:
    """Reciprocal-rank fusion of ranked id lists, as `search` scores memories: 1 for an id
    first in every list (other domains' searches, e.g. document chunks, use it)."""
    scores: dict[str, float] = {}
    for ids in ranked:
        for rank, found in enumerate(ids):
            scores[found] = scores.get(found, 0.0) + 1 / (RRF_K + rank + 1)
    best = max(len(ranked), 1) / (RRF_K + 1)
    return {found: round(score / best, 6) for found, score in scores.items()}


def _adjust(entry: MemoryEntry) -> float:
    now = utcnow()
    age_days = max((now - entry.updated_at).total_seconds(), 0.0) / 86_400
    recency = 0.95 + 0.1 * 0.5 ** (age_days / HALF_LIFE_DAYS)
    importance = 0.9 + 0.2 * entry.importance
    valid = 0.5 if entry.valid_to is not None and entry.valid_to <= now else 1.0
    return float(recency * importance * valid)


@exempt("a search only marks the entries it found as used")
async def search(
    db: AsyncSession,
    actor: Actor,
    query: str,
    where: EntryFilter,
    limit: int,
    vectors: VectorSearch | None = None,
) -> tuple[list[Hit], str]:
    """Hits, best first, and the mode (`lexical` or `hybrid`)."""
    base = listing(actor, where)
    # fusion needs a deeper list than the page; alone, the lexical list is reranked only mildly
    pool = max(limit * 3, 30) if vectors is not None else limit * 2
    hits: dict[str, Hit] = {}
    lists = 0
    words = fts.terms(query)
    for rank, (entry, snip) in enumerate(await lexical(db, base, words, pool)):
        hit = hits.setdefault(entry.id, Hit(entry))
        hit.score += 1 / (RRF_K + rank + 1)
        hit.snippet = snip  # raw (markers, not escaped); "" on SQLite: cut below, if shown
        hit.matched.append("lexical")
    lists += 1
    mode = "lexical"
    ids = await vectors(db, base, query, pool) if vectors is not None else None
    if ids is not None:
        mode, lists = "hybrid", lists + 1
        missing = [i for i in ids if i not in hits]
        extra = {}
        if missing:
            found_rows = await db.scalars(base.where(MemoryEntry.num.in_(nums_of(missing))))
            extra = {e.id: e for e in found_rows}
        for rank, entry_id in enumerate(ids):
            found = hits.get(entry_id)
            if found is None:
                if entry_id not in extra:
                    continue
                found = hits[entry_id] = Hit(
                    extra[entry_id], snippet=_plain_snippet(html.escape(extra[entry_id].content))
                )
            found.score += 1 / (RRF_K + rank + 1)
            found.matched.append("vector")
    best = lists / (RRF_K + 1)
    for hit in hits.values():
        hit.score = round(hit.score / best * _adjust(hit.entry), 6)
    ranked = sorted(hits.values(), key=lambda h: (-h.score, h.entry.id))[:limit]
    for hit in ranked:
        if "lexical" in hit.matched:
            hit.snippet = render_snippet(hit.snippet or highlight(hit.entry.content, words))
    return ranked, mode
