from __future__ import annotations

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp


class LicenseOut(ApiModel):
    installed: bool
    status: str | None = Field(None, description="Active | Expiring | Expired | Invalid")
    source: str | None = Field(None, description="config | installed | given")
    tier: str | None = None
    max_users: int | None = None
    features: list[str] = []
    expires_at: Timestamp | None = None
    issued_to: str | None = None
    license_id: str | None = None
    problem: str | None = None


class LicenseKeyIn(RequestModel):
    key: str = Field(min_length=1, max_length=8192)


class LicenseVerifyIn(RequestModel):
    key: str | None = Field(None, max_length=8192, description="Omitted: the installed licence.")
