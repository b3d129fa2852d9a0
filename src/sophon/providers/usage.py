"""Model usage: one row per model call (tokens by agent, user, session and task, and what the call
was for: a turn's own steps, memory work or a workflow's model node), and the sums that agents'
and tenants' daily token budgets are checked against and the agent's usage shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform import prepared
from sophon.platform.clock import utcnow
from sophon.platform.ids import new_id
from sophon.providers.models import ModelUsage

if TYPE_CHECKING:
    from sophon.llm import ChatResponse

CHAT = "chat"  # a turn's own model calls: its steps, planning, compaction summaries
MEMORY = "memory"  # memory learning, daily-log summaries, the entity graph
WORKFLOW = "workflow"  # a workflow's `action.llm_prompt` nodes
KINDS = (CHAT, MEMORY)


@dataclass(frozen=True)
class KindTotal:
    kind: str
    calls: int
    input_tokens: int
    output_tokens: int


def record(
    db: AsyncSession,
    provider: str,
    response: ChatResponse,
    *,
    agent_id: str | None,
    user_id: str | None,
    session_id: str | None,
    task_id: str | None,
    kind: str = CHAT,
) -> ModelUsage:
    """Adds the usage of one answer from `provider` to the caller's transaction."""
    usage = response.usage
    row = ModelUsage(
        id=new_id("use"),
        agent_id=agent_id,
        user_id=user_id,
        session_id=session_id,
        task_id=task_id,
        provider=provider,
        model=response.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        estimated=usage.estimated,
        at=utcnow(),
        kind=kind,
    )
    db.add(row)
    return row


_RECORD = insert(ModelUsage)


async def record_now(
    db: AsyncSession,
    provider: str,
    response: ChatResponse,
    *,
    tenant_id: str,
    agent_id: str | None,
    user_id: str | None,
    session_id: str | None,
    task_id: str | None,
    kind: str = CHAT,
) -> None:
    """`record` as one INSERT built once, run on the transaction's connection (no ORM)."""
    usage = response.usage
    row = {
        "id": new_id("use"),
        "tenant_id": tenant_id,
        "agent_id": agent_id,
        "user_id": user_id,
        "session_id": session_id,
        "task_id": task_id,
        "provider": provider,
        "model": response.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "estimated": usage.estimated,
        "at": utcnow(),
        "kind": kind,
    }
    await prepared.run(db, _RECORD, row)


def day_start() -> datetime:
    """Midnight UTC today: daily budgets count from here."""
    return datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)


async def tenant_tokens_since(db: AsyncSession, tenant_id: str, since: datetime) -> int:
    """Input and output tokens of every model call in the tenant (any kind) from `since` on."""
    used = await db.scalar(
        select(func.sum(ModelUsage.input_tokens + ModelUsage.output_tokens)).where(
            ModelUsage.tenant_id == tenant_id, ModelUsage.at >= since
        )
    )
    return int(used or 0)


async def agent_tokens_since(db: AsyncSession, agent_id: str, since: datetime) -> int:
    """Input and output tokens the agent's model calls used from `since` on."""
    used = await db.scalar(
        select(func.sum(ModelUsage.input_tokens + ModelUsage.output_tokens)).where(
            ModelUsage.agent_id == agent_id, ModelUsage.at >= since
        )
    )
    return int(used or 0)


async def agent_totals(db: AsyncSession, agent_id: str, since: datetime) -> list[KindTotal]:
    """The agent's model calls from `since` on, summed by kind (every kind, zeros included)."""
    rows = await db.execute(
        select(
            ModelUsage.kind,
            func.count(),
            func.coalesce(func.sum(ModelUsage.input_tokens), 0),
            func.coalesce(func.sum(ModelUsage.output_tokens), 0),
        )
        .where(ModelUsage.agent_id == agent_id, ModelUsage.at >= since)
        .group_by(ModelUsage.kind)
    )
    found = {str(k): KindTotal(str(k), int(c), int(i), int(o)) for k, c, i, o in rows.all()}
    known = [found.pop(kind, KindTotal(kind, 0, 0, 0)) for kind in KINDS]
    return known + sorted(found.values(), key=lambda t: t.kind)
