"""A session's history as a turn's prompt reads it, kept in this process from turn to turn so
that a warm turn's cost does not grow with the session: a turn reads, parses and converts only
the messages from the one the previous turn answered on.

What is kept is checked by the read that happens anyway (`chat.history.turn_history`): it
counts the messages before the kept point (since the latest compaction) and reads again those a
later write may change (an assistant's tool calls). A message that came or went (a write
committed late, another replica's, a compaction, the session deleted) changes the count, a
changed tool-call list differs from the kept one: the whole history is then read again.

The model's form of the kept messages carries their JSON in each wire format an adapter sent
them in (`ChatMessage.wire_forms`), so a warm turn's request encodes only its new messages; it
goes with them (another reading makes new messages), within the same bounds, at about their
text's size per wire format."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.chat import history as session_reads
from sophon.llm import ChatMessage
from sophon.runtime import history
from sophon.runtime.history import Past

if TYPE_CHECKING:
    from sophon.runtime.step import Turn

SESSIONS = 2_048
CHARACTERS = 32_000_000
"""The kept histories' text, at most (the least recently used session's is dropped first)."""
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Recalled:
    """The history after the latest compaction: its summary, the messages it does not cover and
    their tokens; `model`: the first `settled` of them as the model reads them, whose calls
    `answered` has all."""

    summary: Past | None
    recent: list[Past]
    tokens: int
    settled: int = 0
    model: tuple[ChatMessage, ...] | None = None
    answered: frozenset[str | None] = frozenset()

    def to_model(self, channel_id: str | None) -> list[ChatMessage]:
        """`history.to_model` of the whole, converting only what follows the settled part."""
        if self.model is None:
            return history.to_model(self.recent, channel_id, self.summary)
        head = history.to_model([], channel_id, self.summary)
        rest = history.to_model(self.recent[self.settled :], channel_id, None, self.answered)
        return [*head, *self.model, *rest]


@dataclass(frozen=True, slots=True)
class _Kept:
    """A session's history before `mark` (the message a turn answered): the messages since the
    latest compaction (`rows`), the tool-call lists read of them (`calls`, by id), what the
    prompt makes of them (`recalled`, settled throughout) and the session's channel."""

    mark: str
    rows: tuple[Past, ...]
    calls: dict[str, Any]
    recalled: Recalled
    channel_id: str | None
    characters: int


class _Store:
    """The kept histories, least recently used first, within `SESSIONS` and `CHARACTERS`."""

    def __init__(self) -> None:
        self.kept: OrderedDict[str, _Kept] = OrderedDict()
        self.characters = 0

    def get(self, session: str) -> _Kept | None:
        return self.kept.get(session)

    def put(self, session: str, kept: _Kept) -> None:
        old = self.kept.pop(session, None)
        self.characters += kept.characters - (old.characters if old is not None else 0)
        self.kept[session] = kept
        while len(self.kept) > SESSIONS or self.characters > CHARACTERS:
            self.characters -= self.kept.popitem(last=False)[1].characters


_KEPT = _Store()


async def recall(db: AsyncSession, turn: Turn) -> Recalled:
    """What the turn's prompt holds of its session's history (see the module)."""
    session, task, mark = turn.session.id, turn.task.id, turn.task.message_id
    channel_id = turn.session.channel_id
    kept = _KEPT.get(session) if mark is not None else None
    if kept is not None and (kept.channel_id != channel_id or kept.mark > str(mark)):
        kept = None  # an earlier message's turn does not see all that later ones saw
    after = kept.mark if kept is not None else ""
    raw, before = await session_reads.turn_history(db, session, task, mark, after)
    if kept is not None:
        since_mark = _after_kept(kept, raw, before)
        if since_mark is None:
            kept = None
            raw, _ = await session_reads.turn_history(db, session, task, mark)
        else:
            raw = since_mark
    fresh = [_past(row) for row in raw]
    if kept is not None and all(m.role != "system" for m in fresh):
        done = kept.recalled
        tokens = done.tokens + sum(m.tokens for m in fresh)
        recalled = Recalled(
            done.summary, [*done.recent, *fresh], tokens, done.settled, done.model, done.answered
        )
    else:
        summary, recent = history.since_compaction([*kept.rows, *fresh] if kept else fresh)
        recalled = Recalled(summary, recent, sum(m.tokens for m in recent))
    if mark is not None:
        _keep(session, kept, raw, fresh, mark, recalled, channel_id)
    return recalled


def _past(row: Row) -> Past:
    id_, role, content, tool_calls, tool_call_id, meta = row
    parse = session_reads.parsed
    return Past(id_, role, content, parse(tool_calls), tool_call_id, parse(meta))


def _changing(row: Row) -> bool:
    """A message whose tool calls a later write may change (`turn_history` reads it again)."""
    calls = row[3]  # text, or the list a driver decoded itself (asyncpg)
    return bool(row[1] == "assistant" and calls is not None and calls not in ("[]", []))


def _after_kept(kept: _Kept, raw: list[Row], before: int) -> list[Row] | None:
    """The rows read from the kept mark on, or None when the kept messages are no longer the
    history's (a message came or went, a tool-call list changed)."""
    if before != len(kept.rows):
        return None
    start = 0
    while start < len(raw) and raw[start][0] < kept.mark:
        if kept.calls.get(raw[start][0]) != raw[start][3]:
            return None
        start += 1
    if start != len(kept.calls) or start == len(raw) or raw[start][0] != kept.mark:
        return None
    return raw[start:]


def _keep(
    session: str,
    kept: _Kept | None,
    raw: list[Row],
    fresh: list[Past],
    mark: str,
    recalled: Recalled,
    channel_id: str | None,
) -> None:
    """Keeps the session's history before `mark` for its next turn: the model's form of it too
    when each of its calls has its answer there."""
    count = next((i for i, m in enumerate(fresh) if m.id >= mark), len(fresh))
    calls = {row[0]: row[3] for row in raw[:count] if _changing(row)}
    rows = tuple(fresh[:count])
    characters = sum(len(m.content) for m in rows)
    if kept is not None:
        calls, rows = {**kept.calls, **calls}, (*kept.rows, *rows)
        characters += kept.characters
    end = len(recalled.recent)
    while end and recalled.recent[end - 1].id >= mark:
        end -= 1
    recent = recalled.recent[:end]
    tokens = recalled.tokens - sum(m.tokens for m in recalled.recent[end:])
    added = recent[recalled.settled :]
    answered = recalled.answered | history.answered_calls(added)
    if recalled.model is not None and history.all_answered(added, answered):
        converted = history.to_model(added, channel_id, None, recalled.answered)
        model: tuple[ChatMessage, ...] | None = (*recalled.model, *converted)
    else:
        answered = frozenset(history.answered_calls(recent))
        whole = history.all_answered(recent, answered)
        model = tuple(history.to_model(recent, channel_id)) if whole else None
    settled = Recalled(recalled.summary, recent, tokens, len(recent), model, answered)
    _KEPT.put(session, _Kept(mark, rows, calls, settled, channel_id, characters))
