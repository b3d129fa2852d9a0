"""The outbound event catalog: dotted names, the bus events they come from, and the JSON Schema
of each payload's `data`. Only the properties a schema names leave the Gateway, so a payload never
carries what its producer added later unseen (secrets, arguments, another tenant's objects)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}
_OPT_INT = {"type": ["integer", "null"]}


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    properties: Mapping[str, Any]
    bus_name: str | None = None
    required: tuple[str, ...] = field(default=())

    @property
    def family(self) -> str:
        return self.name.rsplit(".", 1)[0]

    def data_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": dict(self.properties),
            "required": list(self.required),
        }

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the whole envelope `{type, timestamp, tenant, data}`."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "type": {"const": self.name},
                "timestamp": {"type": "string", "format": "date-time"},
                "tenant": {"type": "string"},
                "data": self.data_schema(),
            },
            "required": ["type", "timestamp", "tenant", "data"],
        }

    def shape(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The payload narrowed to the documented properties."""
        return {key: payload[key] for key in self.properties if key in payload}


_TASK = {"taskId": _STR, "sessionId": _OPT_STR, "agentId": _OPT_STR, "userId": _OPT_STR}
_APPROVAL = {
    "id": _STR,
    "kind": _STR,
    "status": _STR,
    "toolName": _STR,
    "riskLevel": _STR,
    "agentId": _OPT_STR,
    "sessionId": _OPT_STR,
    "taskId": _OPT_STR,
    "requesterId": _OPT_STR,
    "decidedBy": _OPT_STR,
}
_AGENT = {"agentId": _STR, "name": _OPT_STR}
_CRON = {"cronJobId": _STR, "name": _OPT_STR, "taskId": _OPT_STR, "error": _OPT_STR}
_RUN = {
    "runId": _STR,
    "workflowId": _STR,
    "taskId": _OPT_STR,
    "version": _OPT_INT,
    "status": _STR,
    "userId": _OPT_STR,
}
_DOCUMENT = {
    "documentId": _STR,
    "name": _OPT_STR,
    "status": _STR,
    "pages": _OPT_INT,
    "errorCode": _OPT_STR,
    "error": _OPT_STR,
}

EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        "task.completed",
        "An agent task finished successfully.",
        {**_TASK, "durationMs": _OPT_INT, "tokensUsed": _OPT_INT},
        "TaskCompleted",
        ("taskId",),
    ),
    EventType(
        "task.failed",
        "An agent task failed.",
        {**_TASK, "error": _OPT_STR, "code": _OPT_STR},
        "TaskFailed",
        ("taskId",),
    ),
    EventType(
        "task.cancelled", "An agent task was cancelled.", _TASK, "TaskCancelled", ("taskId",)
    ),
    EventType(
        "approval.requested",
        "A risky action waits for a person's decision.",
        _APPROVAL,
        "ApprovalRequested",
        ("id",),
    ),
    EventType(
        "approval.resolved",
        "An approval was approved, rejected or expired.",
        _APPROVAL,
        "ApprovalResolved",
        ("id",),
    ),
    EventType("cron.fired", "A cron job started its run.", _CRON, "CronFired", ("cronJobId",)),
    EventType("cron.failed", "A cron job's run failed.", _CRON, "CronFailed", ("cronJobId",)),
    EventType(
        "memory.forgotten",
        "Memories were forgotten (deleted or expired).",
        {"memoryIds": {"type": "array", "items": _STR}, "reason": _OPT_STR},
        "MemoryForgotten",
        ("memoryIds",),
    ),
    EventType("agent.created", "An agent was created.", _AGENT, "AgentCreated", ("agentId",)),
    EventType("agent.updated", "An agent was changed.", _AGENT, "AgentUpdated", ("agentId",)),
    EventType("agent.deleted", "An agent was deleted.", _AGENT, "AgentDeleted", ("agentId",)),
    EventType(
        "user.created",
        "A user joined the tenant.",
        {"userId": _STR, "email": _OPT_STR, "displayName": _OPT_STR},
        "UserCreated",
        ("userId",),
    ),
    EventType(
        "workflow.run.started",
        "A workflow run started.",
        _RUN,
        "WorkflowRunStarted",
        ("runId",),
    ),
    EventType(
        "workflow.run.waiting",
        "A workflow run waits (an approval, a timer or a sub-workflow).",
        _RUN,
        "WorkflowRunWaiting",
        ("runId",),
    ),
    EventType(
        "workflow.run.completed",
        "A workflow run completed.",
        _RUN,
        "WorkflowRunCompleted",
        ("runId",),
    ),
    EventType(
        "workflow.run.failed",
        "A workflow run failed or was cancelled.",
        {**_RUN, "error": {"type": ["object", "string", "null"]}},
        "WorkflowRunFailed",
        ("runId",),
    ),
    EventType(
        "document.ready",
        "A document was extracted and indexed.",
        _DOCUMENT,
        "DocumentReady",
        ("documentId",),
    ),
    EventType(
        "document.failed",
        "A document could not be extracted or indexed.",
        _DOCUMENT,
        "DocumentFailed",
        ("documentId",),
    ),
    EventType(
        "webhook.test",
        "Sent by POST /api/webhooks/{id}/test.",
        {"webhookId": _STR, "message": _STR},
        None,
        ("webhookId",),
    ),
)

BY_NAME: dict[str, EventType] = {t.name: t for t in EVENT_TYPES}
BY_BUS_NAME: dict[str, EventType] = {t.bus_name: t for t in EVENT_TYPES if t.bus_name}
FAMILIES = frozenset(t.family for t in EVENT_TYPES) | {"workflow"}
"""Families a subscription may name with `.*` (`workflow.*` too: every `workflow.run.*`)."""


def unknown_patterns(patterns: Iterable[str]) -> list[str]:
    """The patterns that name neither a catalog event nor `family.*` of a known family."""
    bad = []
    for pattern in patterns:
        if pattern in BY_NAME or pattern == "*":
            continue
        if pattern.endswith(".*") and pattern[:-2] in FAMILIES:
            continue
        bad.append(pattern)
    return bad


def subscribed(patterns: Iterable[str], event_name: str) -> bool:
    """Exact names, `family.*` (any depth below the family) and `*`."""
    for pattern in patterns:
        if pattern in (event_name, "*"):
            return True
        if pattern.endswith(".*") and event_name.startswith(pattern[:-1]):
            return True
    return False
