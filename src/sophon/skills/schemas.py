"""Wire models of the skills API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel
from sophon.tools.registry import RiskLevel


class SkillToolOut(ApiModel):
    name: str
    description: str
    risk_level: RiskLevel
    parameters: dict[str, Any]


class SkillVersionOut(ApiModel):
    version: str
    status: Literal["Active", "Pending", "Rejected"]
    active: bool
    source: str
    source_ref: str | None
    sha256: str
    signature: Literal["signed", "unsigned", "bundled"]
    signer: str | None
    findings: list[dict[str, Any]]
    approval_id: str | None
    installed_by: str | None
    installed_at: datetime


class SkillOut(ApiModel):
    name: str
    version: str
    """The active version (or the newest, when none is active yet)."""
    description: str
    status: Literal["Active", "Pending", "Rejected"]
    source: str
    signature: Literal["signed", "unsigned", "bundled"]
    signer: str | None
    tools: list[SkillToolOut]
    enabled_agents: list[str]
    """Agents of this tenant the skill is enabled for."""
    installed_at: datetime
    updated_at: datetime


class SkillCredentialOut(ApiModel):
    name: str
    description: str
    configured: bool


class SkillDetailOut(SkillOut):
    manifest: dict[str, Any]
    skill_md: str
    files: list[str]
    versions: list[SkillVersionOut]
    credentials: list[SkillCredentialOut]


class InstallIn(ApiModel):
    """JSON form of an install (an upload is multipart: `file`, and the same flags as fields)."""

    url: str | None = Field(None, max_length=2000, description="An https URL of the archive.")
    name: str | None = Field(None, max_length=64, description="A marketplace name.")
    version: str | None = Field(None, max_length=64, description="With `name`: this version.")
    signature: str | dict[str, Any] | None = Field(
        None, description="The detached signature document (with `url`)."
    )
    allow_unsigned: bool = False
    allow_flagged: bool = False


class EnableIn(ApiModel):
    agent_id: str = Field(min_length=1, max_length=40)


class CredentialIn(ApiModel):
    value: str = Field(min_length=1, max_length=8192)


class AuthorIn(ApiModel):
    description: str = Field(min_length=10, max_length=4000)
    name: str | None = Field(None, max_length=64)
