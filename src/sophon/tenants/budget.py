"""A tenant's daily token budget: every model call in the tenant (agents' turns, memory work,
workflows' model nodes) counts toward it; it resets at midnight UTC. Checked before work that
calls a model starts (a workflow run, each `action.llm_prompt` node)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform.clock import iso
from sophon.platform.errors import BudgetExceeded
from sophon.providers import usage
from sophon.tenants.models import Tenant


async def tokens_left(db: AsyncSession, tenant_id: str) -> int | None:
    """The tokens the tenant may still use today; None without a budget."""
    tenant = await db.get(Tenant, tenant_id)
    if tenant is None or not tenant.budget_daily_tokens:
        return None
    used = await usage.tenant_tokens_since(db, tenant_id, usage.day_start())
    return max(tenant.budget_daily_tokens - used, 0)


async def require_tokens(db: AsyncSession, tenant_id: str) -> int | None:
    """The tokens left today (None without a budget); a 429 `budget_exceeded` when none are."""
    left = await tokens_left(db, tenant_id)
    if left is not None and left <= 0:
        tenant = await db.get(Tenant, tenant_id)
        budget = tenant.budget_daily_tokens if tenant is not None else None
        raise BudgetExceeded(
            f"The tenant's daily token budget ({budget} tokens) is used up; "
            "it resets at midnight UTC.",
            {"dailyTokens": budget, "resetsAt": iso(usage.day_start() + timedelta(days=1))},
        )
    return left
