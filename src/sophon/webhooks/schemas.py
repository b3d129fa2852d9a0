"""Wire models of webhooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")]


class FilterIn(RequestModel):
    """`header`: the request header `name` equals `value` (names case-insensitive); `body`: the
    JSON value at the dotted `path` (e.g. `repository.full_name`) equals `value`."""

    type: Literal["header", "body"]
    name: str | None = Field(None, max_length=200)
    path: str | None = Field(None, max_length=500)
    value: Any


class ActionIn(RequestModel):
    """`agent`: runs `agentId` (its id or name) with `messageTemplate` rendered against
    `$trigger` (`body`, `headers`, `query`); `workflow`: starts `workflowId` with `$trigger`."""

    type: Literal["agent", "workflow"]
    agent_id: str | None = Field(None, max_length=200)
    message_template: str | None = Field(None, max_length=20_000)
    workflow_id: str | None = Field(None, max_length=100)


class WebhookIn(RequestModel):
    kind: Literal["outbound", "inbound"] = "outbound"
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    enabled: bool = True
    # outbound
    url: str | None = Field(None, max_length=2000)
    event_types: list[str] = Field(default_factory=list, max_length=100)
    headers: dict[HeaderName, Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=dict, max_length=20
    )
    # inbound
    slug: str | None = Field(None, pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
    scheme: Literal["sophon", "github", "stripe", "slack", "standard"] = "sophon"
    secret: str | None = Field(None, min_length=8, max_length=500)
    filters: list[FilterIn] = Field(default_factory=list, max_length=20)
    action: ActionIn | None = None


class WebhookPatchIn(RequestModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    enabled: bool | None = None
    url: str | None = Field(None, max_length=2000)
    event_types: list[str] | None = Field(None, max_length=100)
    headers: dict[HeaderName, Annotated[str, Field(max_length=4000)]] | None = Field(
        None, max_length=20
    )
    filters: list[FilterIn] | None = Field(None, max_length=20)
    action: ActionIn | None = None


class WebhookOut(ApiModel):
    id: str
    kind: str
    name: str
    description: str | None
    url: str | None
    event_types: list[str]
    enabled: bool
    status: str
    headers: dict[str, str]
    slug: str | None
    receive_url: str | None
    scheme: str | None
    filters: list[dict[str, Any]]
    action: dict[str, Any] | None
    created_at: Timestamp
    updated_at: Timestamp
    last_delivery_at: Timestamp | None
    failure_count: int
    secret: str | None = Field(
        None, description="Shown once: in the answer to creation and to rotate-secret."
    )


class AttemptOut(ApiModel):
    id: str
    attempted_at: Timestamp
    status_code: int | None
    duration_ms: int
    response_headers: dict[str, str]
    response_body: str | None
    error: str | None
    succeeded: bool


class DeliveryOut(ApiModel):
    """An outbound delivery, or (for an inbound webhook) a receipt: then `eventType` is null and
    `verified`, `matched`, `taskId` describe what the request did."""

    id: str
    webhook_id: str
    event_type: str | None
    status: str
    attempts: int
    created_at: Timestamp
    next_attempt_at: Timestamp | None = None
    delivered_at: Timestamp | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    payload: dict[str, Any] | None = None
    verified: bool | None = None
    matched: bool | None = None
    task_id: str | None = None
    attempt_log: list[AttemptOut] | None = Field(
        None, description="Every attempt (on the single-delivery view)."
    )


class EventTypeOut(ApiModel):
    name: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema")


class ReceiveAccepted(ApiModel):
    matched: bool = True
    receipt_id: str | None = None
    task_id: str | None = None
    duplicate: bool = False
