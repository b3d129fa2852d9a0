from __future__ import annotations

from typing import Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp
from sophon.platform.tenancy import SLUG_PATTERN

TierName = Literal["Personal", "Pro", "Enterprise"]


class TenantOut(ApiModel):
    id: str
    slug: str
    name: str
    description: str
    tier_override: str | None
    status: str
    created_at: Timestamp


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


class MemberOut(ApiModel):
    id: str
    email: str
    display_name: str
    status: str
    roles: list[str]


class MemberIn(RequestModel):
    user: str = Field(min_length=1, description="The user's id or email.")
    roles: list[str] = Field(default_factory=lambda: ["Viewer"])
