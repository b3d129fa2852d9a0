"""Model usage: one row per model call (tokens by agent, user, session and task), and the sums
that agents' daily token budgets are checked against."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.llm import ChatResponse
from sophon.platform.clock import utcnow
from sophon.platform.ids import new_id
from sophon.providers.models import ModelUsage


def record(
    db: AsyncSession,
    provider: str,
    response: ChatResponse,
    *,
    agent_id: str | None,
    user_id: str | None,
    session_id: str | None,
    task_id: str | None,
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
    )
    db.add(row)
    return row


async def agent_tokens_since(db: AsyncSession, agent_id: str, since: datetime) -> int:
    """Input and output tokens the agent's model calls used from `since` on."""
    used = await db.scalar(
        select(func.sum(ModelUsage.input_tokens + ModelUsage.output_tokens)).where(
            ModelUsage.agent_id == agent_id, ModelUsage.at >= since
        )
    )
    return int(used or 0)
