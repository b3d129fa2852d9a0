"""Wire models of workflows, versions, runs and node records."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp


class WorkflowSummary(ApiModel):
    id: str
    name: str
    description: str
    version: int
    enabled: bool
    paused: bool
    trigger_type: str
    risk: str
    approval: str = Field(description="NotNeeded, Required, Pending or Approved.")
    approval_id: str | None
    node_count: int
    owner_id: str | None
    agent_authored: bool
    created_at: Timestamp
    updated_at: Timestamp


class WorkflowOut(WorkflowSummary):
    secret_names: list[str] = Field(description="Secrets set (`$secrets.<name>`); never values.")
    trigger: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    vars: dict[str, Any]


class VersionOut(ApiModel):
    number: int
    actor_id: str | None
    actor_email: str | None
    summary: str
    created_at: Timestamp
    definition: dict[str, Any]


class SecretsIn(RequestModel):
    secrets: dict[str, Annotated[str, Field(max_length=8192)] | None] = Field(
        description="name → value to set, or null to remove."
    )


class TriggerIn(RequestModel):
    input: Any = Field(default=None, description="Available to expressions as `$input`.")


class CloneIn(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)


class RunStarted(ApiModel):
    run_id: str
    task_id: str


class NodeRecordOut(ApiModel):
    id: str
    node_id: str
    node_type: str
    attempt: int
    status: str
    input: Any
    output: Any
    error: dict[str, Any] | None
    started_at: Timestamp
    finished_at: Timestamp | None


class RunSummary(ApiModel):
    id: str
    workflow_id: str
    version: int
    status: str
    task_id: str
    user_id: str | None
    parent_run_id: str | None
    trigger: dict[str, Any]
    input: Any
    output: Any
    error: dict[str, Any] | None
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


class RunOut(RunSummary):
    vars: dict[str, Any]
    nodes: list[NodeRecordOut]


class NodeTypeOut(ApiModel):
    type: str
    description: str
    risk: str = Field(description="The type's risk; `(tool)`: the named tool's.")
    labels: list[str] = Field(description="`when` values of its outgoing edges (besides error).")
    config_schema: dict[str, Any]


class ValidationOut(ApiModel):
    valid: bool
    risk: str
    node_count: int
    definition: dict[str, Any]
