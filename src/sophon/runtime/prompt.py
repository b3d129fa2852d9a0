"""What the model reads on each step of a turn: the system prompt (persona files, sections
from hooks, the plan), the history after the latest compaction, and compaction itself when the
history outgrows the context window (a model summary, or a digest without a model)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import persona
from sophon.agents.files import FileKind
from sophon.chat import history as session_reads
from sophon.chat import service as chat
from sophon.llm import ChatMessage, ChatRequest
from sophon.llm.base import estimate_tokens
from sophon.platform.clock import utcnow
from sophon.platform.errors import DomainError
from sophon.providers import routing
from sophon.runtime import history, hooks
from sophon.runtime.errors import TurnCancelled, TurnSkipped
from sophon.runtime.recall import recall
from sophon.runtime.system_prompt import system_prompt

if TYPE_CHECKING:
    from sophon.runtime.step import Turn, TurnScope

log = logging.getLogger("sophon.runtime")
ANSWERED_SESSIONS = 10_000
_ANSWERED: OrderedDict[str, None] = OrderedDict()

SUMMARY_INSTRUCTION = (
    "Summarise the conversation below for your own future reference: facts, decisions, open "
    "questions and what the user wants. Be brief and concrete."
)


@dataclass(frozen=True)
class Context:
    """A step's prompt, and the providers it was sized for: the model call tries the same."""

    messages: list[ChatMessage]
    candidates: list[routing.Candidate]


async def build(scope: TurnScope, turn: Turn) -> Context:
    async with scope.tx(turn, readonly=True) as db:
        files = await _persona(scope, db, turn)
        extras = await _context_extras(db, turn.info)
        recalled = await recall(db, turn)
        candidates = await scope.candidates(db, turn)
        window = await routing.context_window(db, candidates)
    system = system_prompt(
        turn.agent.name,
        utcnow(),
        files,
        extras=extras,
        plan=turn.plan if turn.plan_approved is not False else None,
        heartbeat=turn.heartbeat,
    )
    tool_tokens = sum(estimate_tokens(tool.offered_text) for tool in turn.tools)
    budget = (
        (window or scope.settings.default_context_window)
        - turn.agent.max_tokens
        - estimate_tokens(system)
        - tool_tokens
    )
    recent = recalled.recent
    split = history.compaction_split(recent, max(budget, 0), recalled.tokens)
    if split:
        summary = await _compact(scope, turn, recalled.summary, recent[:split])
        past = history.to_model(recent[split:], turn.session.channel_id, summary)
    else:
        past = recalled.to_model(turn.session.channel_id)
    return Context([ChatMessage.system(system), *past], candidates)


async def _persona(scope: TurnScope, db: AsyncSession, turn: Turn) -> dict[FileKind, str]:
    kinds = [FileKind.SOUL, FileKind.TOOLS_GUIDE, FileKind.AGENTS_GUIDE]
    if turn.heartbeat:
        kinds.append(FileKind.HEARTBEAT)
    elif await _first_turn(db, turn):
        kinds.append(FileKind.BOOT)
    data = scope.settings.data
    read = await persona.read_many(db, scope.database, data, turn.agent.id, kinds)
    files = {kind: state.content for kind, state in read.items()}
    if turn.heartbeat and not files[FileKind.HEARTBEAT].strip():
        raise TurnSkipped("HEARTBEAT.md is empty: nothing to check.")
    return files


async def _first_turn(db: AsyncSession, turn: Turn) -> bool:
    """Whether no other turn of the session was answered (BOOT.md is read then). Once one was,
    that stays so: this process remembers such sessions and asks no more."""
    if turn.session.id in _ANSWERED:
        _ANSWERED.move_to_end(turn.session.id)
        return False
    if not await session_reads.answered_before(db, turn.session.id, turn.task.id):
        return True
    _ANSWERED[turn.session.id] = None
    while len(_ANSWERED) > ANSWERED_SESSIONS:
        _ANSWERED.popitem(last=False)
    return False


async def _compact(
    scope: TurnScope, turn: Turn, summary: history.Past | None, older: list[history.Past]
) -> history.Past:
    exchange = hooks.Exchange([(m.role, m.content, m.id) for m in older])
    for hook in hooks.before_compaction_hooks:
        try:
            await hook(scope, turn.info, exchange)
        except Exception:
            log.exception("a before-compaction hook failed")
    earlier = f"{summary.content}\n" if summary is not None else ""
    text = earlier + await _summarise(scope, turn, older)
    async with scope.tx(turn) as db:
        session = await chat.lock_session(db, turn.session.id)
        if session is None:
            raise TurnCancelled
        stored = chat.append_message(
            db,
            session,
            "system",
            text,
            task_id=turn.task.id,
            meta={"compaction": True, "through": older[-1].id, "messages": len(older)},
        )
    return history.Past.of(stored)


async def _summarise(scope: TurnScope, turn: Turn, older: list[history.Past]) -> str:
    digest = history.digest(older)
    async with scope.tx(turn, readonly=True) as db:
        candidates = await scope.candidates(db, turn)
    if all(c.type == "echo" for c in candidates):
        return digest
    request = ChatRequest(
        model="",
        messages=[ChatMessage.system(SUMMARY_INSTRUCTION), ChatMessage.user(digest)],
        temperature=0.0,
        max_tokens=1024,
    )
    try:
        candidate, response = await scope.complete(turn, request, candidates)
    except DomainError:
        return digest
    await scope.record_usage(turn, candidate, response)
    return response.content.strip() or digest


async def _context_extras(db: AsyncSession, info: hooks.TurnInfo) -> dict[str, str]:
    extras: dict[str, str] = {}
    for hook in hooks.context_hooks:
        try:
            section = await hook(db, info)
        except Exception:
            log.exception("a context hook failed")
            continue
        if section is not None:
            extras[section[0]] = section[1]
    return extras
