"""Automatic memories from a conversation: in batches of a session's turns (`window`) and
before context compaction, propose memories from the exchange, by the model when one is
configured and by a few first-person patterns otherwise. A near-duplicate of an existing memory
updates it (keeping the old text as a version) instead of adding another."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity.users import service as users_service
from sophon.memory import settings_service
from sophon.memory.entries import fts
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.entries.service import EntryFilter
from sophon.memory.learning import modelcall
from sophon.memory.schemas import (
    MAX_CONTENT_BYTES,
    Category,
    EntryIn,
    EntryPatchIn,
    Scope,
    SourceIn,
    SourceType,
)
from sophon.memory.search import service as searching
from sophon.platform.errors import NotFound

if TYPE_CHECKING:
    from sophon.platform.db import Database
    from sophon.platform.vault import Vault
    from sophon.providers.connect import ProviderRuntime
    from sophon.providers.routing import Candidate

Turn = tuple[str, str, str | None]  # (role, content, message id)
DUPLICATE = 0.6  # word-set overlap (Jaccard) above which a proposal updates an existing memory
MAX_PROPOSALS = 10
TRANSCRIPT_CHARS = 12_000
SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
PATTERNS: list[tuple[re.Pattern[str], Category]] = [
    (re.compile(r"\b(?:remember|note) that\b", re.I), Category.FACT),
    (
        re.compile(r"\bI(?:'d| would)? (?:prefer|like|love|hate|dislike|enjoy)\b", re.I),
        Category.PREFERENCE,
    ),
    (re.compile(r"\bI (?:always|never|usually|often)\b", re.I), Category.OBSERVATION),
    (re.compile(r"\bmy [\w' -]{1,40}? (?:is|are|was|were)\b", re.I), Category.FACT),
    (re.compile(r"\bI(?: am|'m| work| live| moved| have| was born| got)\b", re.I), Category.FACT),
]
SYSTEM = (
    "You extract long-term memories from a conversation between a user and an assistant. "
    "Keep only durable facts about the user, their preferences and recurring habits that "
    "would help in future conversations; never secrets such as passwords or card numbers. "
    "Answer with JSON only, matching this schema: "
    '{"memories": [{"content": string (one self-contained sentence, third person), '
    '"category": "fact" | "preference" | "observation", "importance": number 0-1, '
    '"messageIndex": integer (the message it came from)}]}. '
    'Answer {"memories": []} when nothing is worth keeping.'
)


@dataclass(frozen=True)
class Proposal:
    content: str
    category: Category
    importance: float
    message_id: str | None


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text) if w.lower() not in fts.STOPWORDS}


def similarity(a: str, b: str) -> float:
    left, right = _words(a), _words(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def deterministic(turns: Sequence[Turn]) -> list[Proposal]:
    """First-person statements of the user that look durable."""
    found: list[Proposal] = []
    for role, content, message_id in turns:
        if role != "user":
            continue
        for sentence in SENTENCE.findall(content):
            text = " ".join(sentence.split())
            if len(text) < 8 or text.endswith("?"):
                continue
            for pattern, category in PATTERNS:
                if pattern.search(text):
                    found.append(Proposal(text, category, 0.5, message_id))
                    break
    return found[:MAX_PROPOSALS]


def _from_model(answer: str, turns: Sequence[Turn]) -> list[Proposal]:
    data: Any = modelcall.parse_json(answer)
    items = data.get("memories", []) if isinstance(data, dict) else []
    out: list[Proposal] = []
    for item in items[:MAX_PROPOSALS]:
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            continue
        content = " ".join(item["content"].split())
        if not content or len(content.encode()) > MAX_CONTENT_BYTES:
            continue
        try:
            category = Category(item.get("category", "fact"))
        except ValueError:
            category = Category.FACT
        raw = item.get("importance", 0.5)
        importance = min(max(float(raw), 0.0), 1.0) if isinstance(raw, int | float) else 0.5
        index = item.get("messageIndex")
        message_id = turns[index][2] if isinstance(index, int) and 0 <= index < len(turns) else None
        out.append(Proposal(content, category, importance, message_id))
    return out


async def _proposals(
    model_runtime: ProviderRuntime, planned: list[Candidate], turns: Sequence[Turn]
) -> tuple[list[Proposal], modelcall.Answer | None]:
    """What to remember, and the model's answer it came from (None: the patterns')."""
    transcript = "\n".join(f"[{i}] {role}: {content}" for i, (role, content, _) in enumerate(turns))
    answer = await modelcall.ask(model_runtime, planned, SYSTEM, transcript[-TRANSCRIPT_CHARS:])
    if answer is not None:
        try:
            return _from_model(answer.text, turns), answer
        except ValueError:
            pass  # not JSON: fall back to the patterns rather than lose the turn
    return deterministic(turns), answer


async def save(
    db: AsyncSession,
    actor: Actor,
    proposals: list[Proposal],
    session_id: str | None,
    *,
    embed: bool = False,
) -> list[str]:
    """Creates the proposals as user memories, or updates a near-duplicate; returns the ids."""
    touched: list[str] = []
    for proposal in proposals:
        hits, _ = await searching.search(
            db, actor, proposal.content, EntryFilter(scope=Scope.USER.value), 5
        )
        twin = max(hits, key=lambda h: similarity(h.entry.content, proposal.content), default=None)
        if twin is not None and similarity(twin.entry.content, proposal.content) >= DUPLICATE:
            if twin.entry.content != proposal.content:
                await entries.update_entry(
                    db, actor, twin.entry.id, EntryPatchIn(content=proposal.content), embed=embed
                )
            touched.append(twin.entry.id)
            continue
        made = await entries.create(
            db,
            actor,
            EntryIn(
                content=proposal.content,
                category=proposal.category,
                scope=Scope.USER,
                importance=proposal.importance,
                source=SourceIn(
                    type=SourceType.EXTRACTION,
                    session_id=session_id,
                    message_id=proposal.message_id,
                ),
            ),
            embed=embed,
        )
        touched.append(made.id)
    return touched


async def propose(
    database: Database,
    vault: Vault,
    model_runtime: ProviderRuntime,
    *,
    embed: bool,
    tenant_id: str,
    user_id: str | None,
    agent_id: str,
    session_id: str | None,
    messages: Sequence[Turn],
    then: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> list[str]:
    """Proposes and saves memories from these messages; the ids created or updated. Nothing
    when the agent's extraction is off or the turn has no user. The model is asked between a
    read and one write that a cancellation does not cut short, never inside a transaction; that
    write also records the call's tokens (memory usage) and runs `then` (e.g. moves a cursor),
    which runs even when nothing is proposed.
    `embed`: the saved memories are queued for embedding (an embedding engine is configured)."""

    async def nothing() -> list[str]:
        if then is not None:
            await database.uninterrupted(then, tenant_id=tenant_id)
        return []

    if user_id is None or not messages:
        return await nothing()
    async with database.transaction(readonly=True, tenant_id=tenant_id) as db:
        if not await settings_service.extraction_enabled(db, agent_id):
            return await nothing()
        try:
            email = (await users_service.get_member(db, user_id)).email
        except NotFound:
            return await nothing()
        planned = await modelcall.candidates(vault, db)
    actor = Actor.agent(tenant_id, user_id, agent_id, email)
    proposals, answer = await _proposals(model_runtime, planned, messages)

    async def store(db: AsyncSession) -> list[str]:
        if answer is not None:
            answer.record(db, agent_id=agent_id, user_id=user_id, session_id=session_id)
        saved = await save(db, actor, proposals, session_id, embed=embed)
        if then is not None:
            await then(db)
        return saved

    return await database.uninterrupted(store, tenant_id=tenant_id)
