"""Memories for the agent's prompt: the user's and the agent's entries most relevant to the
current message (ranked by the same search), then the most important ones, within a token
budget. With few memories that is all of them; with many, the right ones. The most important
ones are read once and kept until memory is written (`Memo`); an agent and user without any
valid memory search nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor, visible
from sophon.memory.entries.service import EntryFilter
from sophon.memory.models import MemoryEntry
from sophon.memory.search import service as searching
from sophon.memory.search.vectors import VectorSearch
from sophon.platform.clock import utcnow
from sophon.platform.memo import Memo
from sophon.platform.tenancy import session_tenant

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 4
TOUCH_EVERY = timedelta(minutes=10)  # `lastAccessedAt` is kept to this precision
RELEVANT = 20
BACKFILL = 50
HEADER = "Memories (user: about the user, shared by their agents; agent: your own notes):"


@dataclass(frozen=True, slots=True)
class _Shown:
    """What the prompt shows of an entry, and when it was last marked as used."""

    id: str
    scope: str
    category: str
    content: str
    last_accessed_at: datetime | None
    valid_to: datetime | None

    @classmethod
    def of(cls, entry: MemoryEntry) -> _Shown:
        return cls(
            entry.id,
            entry.scope,
            entry.category,
            entry.content,
            entry.last_accessed_at,
            entry.valid_to,
        )

    @property
    def line(self) -> str:
        return f"- ({self.scope}, {self.category}) {' '.join(self.content.split())}"


_BACKFILL: Memo[tuple[_Shown, ...]] = Memo({"memory_entries"})
"""The most important valid entries of an agent and user, kept until memory is written while
none of them can expire (an empty list too: then there is nothing to search)."""


async def for_turn(
    db: AsyncSession,
    *,
    user_id: str | None,
    agent_id: str,
    query: str,
    token_budget: int,
    nearest: VectorSearch | None = None,
) -> str:
    """The memories to show the model for this message, as prompt text ("" for none).
    `nearest` adds semantic matches (`vectors.vector_search(settings)`)."""
    tenant = session_tenant(db.sync_session)
    if tenant is None or token_budget <= 0:
        return ""
    actor = Actor.agent(tenant, user_id, agent_id, None)
    now = utcnow()

    async def most_important() -> tuple[_Shown, ...]:
        rows = await db.scalars(
            visible(actor)
            .where(or_(MemoryEntry.valid_to.is_(None), MemoryEntry.valid_to > now))
            .order_by(MemoryEntry.importance.desc(), MemoryEntry.updated_at.desc())
            .limit(BACKFILL)
        )
        return tuple(_Shown.of(entry) for entry in rows)

    backfill = await _BACKFILL.get(
        db,
        (tenant, user_id, agent_id),
        most_important,
        keep=lambda shown: all(s.valid_to is None for s in shown),
    )
    if not backfill:  # then no search hit is valid either: nothing to search for
        return ""
    hits, _mode = await searching.search(db, actor, query, EntryFilter(), RELEVANT, nearest)
    chosen: dict[str, _Shown] = {
        h.entry.id: _Shown.of(h.entry)
        for h in hits
        if h.entry.valid_to is None or h.entry.valid_to > now
    }
    for shown in backfill:
        chosen.setdefault(shown.id, shown)
    budget = token_budget * CHARS_PER_TOKEN - len(HEADER)
    lines: list[str] = []
    used: list[str] = []
    for shown in chosen.values():
        line = shown.line
        if len(line) + 1 > budget:
            continue  # a long one may not fit where shorter ones still do
        budget -= len(line) + 1
        lines.append(line)
        used.append(shown.id)
    if not lines:
        return ""
    await _touch(db, [chosen[i] for i in used], now)
    return "\n".join([HEADER, *lines])


async def _touch(db: AsyncSession, shown: list[_Shown], now: datetime) -> None:
    """Marks the shown entries as used, at most every `TOUCH_EVERY` (not a write per turn). The
    turn's context is read in a read transaction: on SQLite its write can find another writer
    first, and the prompt must not lose its memories for a time stamp, so it runs in a savepoint
    and a refusal is let go."""
    due = [
        e.id for e in shown if e.last_accessed_at is None or now - e.last_accessed_at > TOUCH_EVERY
    ]
    if not due:
        return
    try:
        async with db.begin_nested():
            await entries.touch(db, due)
    except OperationalError as error:
        log.info("memory entries not marked as used", extra={"error": str(error.orig)})
