"""Memory in the agent loop: the memories and recent daily logs a turn's prompt shows, learning
from a session's turns in batches (`learning.window`) and before compaction, and the daily-log
schedule of every tenant."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.memory import recall
from sophon.memory.learning import daily_logs, extraction, jobs, window
from sophon.memory.search import vectors
from sophon.platform.db import Database
from sophon.runtime import hooks
from sophon.settings import Settings
from sophon.tenants import service as tenants

Hook = TypeVar("Hook")
MEMORY_TOKENS = 1500
LOG_DAYS = 2


def install(settings: Settings) -> None:
    """Registers memory's turn hooks (once per process)."""
    nearest = vectors.vector_search(settings)

    async def memories(db: AsyncSession, turn: hooks.TurnInfo) -> tuple[str, str] | None:
        text = await recall.for_turn(
            db,
            user_id=turn.user_id,
            agent_id=turn.agent_id,
            query=turn.query,
            token_budget=MEMORY_TOKENS,
            nearest=nearest,
        )
        return ("What you remember", text) if text else None

    async def logs(db: AsyncSession, turn: hooks.TurnInfo) -> tuple[str, str] | None:
        text = await daily_logs.recent(db, turn.agent_id, LOG_DAYS, user_id=turn.user_id)
        return ("Your recent daily logs", text) if text else None

    hooks.context_hooks[:] = [h for h in hooks.context_hooks if h.__module__ != __name__]
    hooks.context_hooks += [memories, logs]
    window.windows.configure(settings.memory_learning_turns, settings.memory_learning_idle_seconds)
    _register_once(hooks.answer_hooks, window.windows.on_answer)
    _register_once(hooks.before_compaction_hooks, _extract_now)


def _register_once(registry: list[Hook], hook: Hook) -> None:
    if hook not in registry:
        registry.append(hook)


async def _extract_now(
    parts: hooks.TurnParts, turn: hooks.TurnInfo, exchange: hooks.Exchange
) -> None:
    """Before older turns are folded into a summary, what matters in them becomes memory: the
    ones no batch has read yet, and the session's cursor moves past them."""
    async with parts.database.transaction(readonly=True, tenant_id=turn.tenant_id) as db:
        through = await window.learned_through(db, turn.session_id)
    fresh = [m for m in exchange.messages if through is None or m[2] > through]
    if not fresh:
        return
    await extraction.propose(
        parts.database,
        parts.vault,
        parts.model_runtime,
        embed=vectors.enabled(parts.settings),
        tenant_id=turn.tenant_id,
        user_id=turn.user_id,
        agent_id=turn.agent_id,
        session_id=turn.session_id,
        messages=fresh,
        then=window.advance(turn.session_id, fresh[-1][2]),
    )


async def schedule_every_tenant(database: Database) -> None:
    async with database.transaction(readonly=True) as db:
        tenant_ids = await tenants.all_ids(db)
    for tenant_id in tenant_ids:
        async with database.transaction(tenant_id=tenant_id) as db:
            await jobs.schedule_daily_logs(db)
