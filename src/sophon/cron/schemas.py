"""Wire models of cron jobs and their history."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from sophon.cron.models import OverlapPolicy, ScheduleType
from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

MAX_GRACE_SECONDS = 366 * 86_400


class AgentAction(RequestModel):
    type: Literal["agent"]
    agent_id: str = Field(min_length=1, max_length=200, description="An agent's id or name.")
    message: str = Field(min_length=1, max_length=20_000)
    session_id: str | None = Field(
        default=None, max_length=40, description="Default: the job's own session."
    )


class WorkflowAction(RequestModel):
    type: Literal["workflow"]
    workflow_id: str = Field(min_length=1, max_length=40)
    input: dict[str, Any] | None = None


class WebhookAction(RequestModel):
    type: Literal["webhook"]
    url: str = Field(min_length=1, max_length=2000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] | None = None
    body: Any = None


class CodeAction(RequestModel):
    type: Literal["code"]
    language: Literal["python"] = "python"
    source: str = Field(min_length=1, max_length=100_000)


Action = Annotated[
    AgentAction | WorkflowAction | WebhookAction | CodeAction, Field(discriminator="type")
]


class CronJobIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    schedule_type: ScheduleType = ScheduleType.RECURRING
    expression: str = Field(min_length=1, max_length=200)
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA name; default: the creator's, else UTC."
    )
    action: Action
    enabled: bool = True
    overlap_policy: OverlapPolicy = OverlapPolicy.SKIP
    misfire_grace_seconds: int = Field(default=3600, ge=0, le=MAX_GRACE_SECONDS)


class CronJobPatchIn(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    schedule_type: ScheduleType | None = None
    expression: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    action: Action | None = None
    enabled: bool | None = None
    overlap_policy: OverlapPolicy | None = None
    misfire_grace_seconds: int | None = Field(default=None, ge=0, le=MAX_GRACE_SECONDS)


class CronJobOut(ApiModel):
    id: str
    name: str
    schedule_type: str
    expression: str
    timezone: str
    action: dict[str, Any]
    enabled: bool
    status: str
    overlap_policy: str
    misfire_grace_seconds: int
    next_run_at: Timestamp | None
    last_run_at: Timestamp | None
    last_status: str | None
    approval_id: str | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    preview: list[Timestamp] | None = Field(
        default=None, description="The next fire times, with `?preview=N`."
    )
    signing_secret: str | None = Field(
        default=None,
        description="The webhook action's signing secret (Standard Webhooks `whsec_…`); "
        "shown only when the job is created.",
    )


class CronRunOut(ApiModel):
    id: str
    job_id: str
    scheduled_for: Timestamp
    fired_at: Timestamp
    finished_at: Timestamp | None
    duration_ms: int | None
    status: str
    trigger: str
    task_id: str | None
    error: str | None
