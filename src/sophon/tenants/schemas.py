from __future__ import annotations

from typing import Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp
from sophon.platform.tenancy import SLUG_PATTERN
from sophon.tenants.models import Tenant

TierName = Literal["Personal", "Pro", "Enterprise"]


class TenantBudget(RequestModel):
    daily_tokens: int | None = Field(
        None, ge=1, description="Tokens per day for every model call in the tenant; null: none."
    )


class TenantBudgetOut(ApiModel):
    daily_tokens: int | None


class TenantOut(ApiModel):
    id: str
    slug: str
    name: str
    description: str
    tier_override: str | None
    status: str
    budget: TenantBudgetOut
    created_at: Timestamp

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            name=tenant.name,
            description=tenant.description,
            tier_override=tenant.tier_override,
            status=tenant.status,
            budget=TenantBudgetOut(daily_tokens=tenant.budget_daily_tokens),
            created_at=tenant.created_at,
        )


class TenantIn(RequestModel):
    slug: str = Field(pattern=SLUG_PATTERN, description="URL-safe, used in /api/tenants/{slug}/…")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    tier_override: TierName | None = Field(None, description="May only lower the Gateway's tier.")
    initial_admin: str | None = Field(None, description="An existing user's id or email.")


class TenantPatchIn(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    tier_override: TierName | None = None
    status: Literal["Active", "Suspended"] | None = None
    budget: TenantBudget | None = Field(None, description="Replaced whole when sent.")


class MemberOut(ApiModel):
    id: str
    email: str
    display_name: str
    status: str
    roles: list[str]


class MemberIn(RequestModel):
    user: str = Field(min_length=1, description="The user's id or email.")
    roles: list[str] = Field(default_factory=lambda: ["Viewer"])
