"""Wire models of the agents API: the agent, its persona files and its tool allowlist."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from sophon.platform.schemas import MAX_INT32, ApiModel, RequestModel, Timestamp

MODEL_REF = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,62}/[^\s/][^\s]{0,199})?$")
CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
ModelRef = Annotated[
    str,
    Field(
        max_length=264,
        pattern=MODEL_REF.pattern,
        description="`<provider id>/<model>` (e.g. `openai-main/gpt-4o-mini`), or empty to let "
        "routing pick.",
    ),
]
Temperature = Annotated[float, Field(ge=0, le=2)]
MaxTokens = Annotated[int, Field(ge=1, le=1_000_000)]
Description = Annotated[str, Field(max_length=2000)]


class PlanningMode(StrEnum):
    AUTO = "Auto"
    LLM_DECIDES = "LlmDecides"
    ALWAYS = "Always"
    NEVER = "Never"


class ActiveHours(RequestModel):
    """The daily window heartbeats may run in, in an IANA time zone; `end` before `start`
    wraps past midnight."""

    start: str = Field(pattern=CLOCK.pattern, examples=["08:00"])
    end: str = Field(pattern=CLOCK.pattern, examples=["22:00"])
    timezone: str = Field("UTC", max_length=64, examples=["Europe/Paris"])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown IANA time zone") from None
        return value


class Heartbeat(RequestModel):
    """Off by default: a heartbeat run costs tokens, so it is opt-in per agent."""

    enabled: bool = False
    interval_minutes: int = Field(30, ge=1, le=1440)
    active_hours: ActiveHours | None = None


class Budget(RequestModel):
    # bounded by the stored column: a 32-bit integer on PostgreSQL
    daily_tokens: int | None = Field(
        None, ge=1, le=MAX_INT32, description="Tokens per UTC day; null: no cap."
    )


class AgentIn(RequestModel):
    name: Name
    description: Description = ""
    model: ModelRef = ""
    temperature: Temperature = 0.7
    max_tokens: MaxTokens = 4096
    planning_mode: PlanningMode = PlanningMode.AUTO
    heartbeat: Heartbeat = Field(default_factory=Heartbeat)
    budget: Budget = Field(default_factory=Budget)


class AgentPatchIn(RequestModel):
    """Only the fields sent change; `heartbeat` and `budget` are replaced whole."""

    name: Name | None = None
    description: Description | None = None
    model: ModelRef | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    planning_mode: PlanningMode | None = None
    heartbeat: Heartbeat | None = None
    budget: Budget | None = None


class HeartbeatOut(ApiModel):
    enabled: bool
    interval_minutes: int
    active_hours: ActiveHours | None


class BudgetOut(ApiModel):
    daily_tokens: int | None


class AgentOut(ApiModel):
    id: str
    name: str
    description: str
    model: str
    temperature: float
    max_tokens: int
    planning_mode: PlanningMode
    heartbeat: HeartbeatOut
    budget: BudgetOut
    tools: list[str]
    owner_id: str | None
    is_default: bool
    created_at: Timestamp
    updated_at: Timestamp


class AgentFileIn(RequestModel):
    content: str


class AgentFileOut(ApiModel):
    kind: str
    filename: str
    content: str
    version: int
    updated_at: Timestamp | None
    etag: str


class VersionActor(ApiModel):
    kind: str = Field(description="`user`, `disk` (an edit made on the file itself) or `system`.")
    user_id: str | None
    email: str | None


class AgentFileVersionOut(ApiModel):
    version: int
    sha256: str
    size: int
    actor: VersionActor
    created_at: Timestamp
    content: str | None = Field(None, description="Only when asked with `?content=true`.")


class ToolsIn(RequestModel):
    tools: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(max_length=500)


class ToolsOut(ApiModel):
    tools: list[str]
    effective: list[str] = Field(description="The catalog's tools the allowlist grants.")


class UsageKindOut(ApiModel):
    kind: str = Field(
        description="`chat`: the agent's turns (steps, planning, compaction summaries); "
        "`memory`: learning from its sessions, daily-log summaries, the memory graph; "
        "`workflow`: model nodes of workflow runs it started."
    )
    calls: int
    input_tokens: int
    output_tokens: int


class UsageOut(ApiModel):
    agent_id: str
    since: Timestamp
    input_tokens: int
    output_tokens: int
    by_kind: list[UsageKindOut]
