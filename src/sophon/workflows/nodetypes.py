"""The node types a definition may use: each with a description, the JSON Schema of its
`config` (published by `GET /api/workflows/node-types`), its risk and the edge labels its
outgoing edges may carry. Execution lives in `executors`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXPR: dict[str, Any] = {"type": "string", "pattern": r"\{\{", "description": "An expression."}


def number(minimum: float = 0) -> dict[str, Any]:
    return {"anyOf": [{"type": "number", "minimum": minimum}, EXPR]}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


INLINE_STEP = obj({"type": {"type": "string"}, "config": {"type": "object"}}, ["type", "config"])
INLINE_TYPES = (
    "action.skill",
    "action.llm_prompt",
    "action.send_message",
    "action.execute_code",
    "action.api_call",
    "data.transform",
    "workflow.run",
)
"""Types a loop body or a parallel branch may be (one step; a sub-workflow for more: inline, a
`workflow.run` starts its child without waiting and outputs `{runId, taskId}`)."""


@dataclass(frozen=True)
class NodeType:
    name: str
    description: str
    schema: dict[str, Any]
    risk: str = "None"
    labels: tuple[str, ...] = ()
    """`when` values its outgoing edges may use besides `error` (None: any)."""
    free_labels: bool = False


_TYPES = [
    NodeType(
        "action.skill",
        "Runs any tool of the catalog by name, with its risk and approval gate: High and above "
        "wait for a person's approval.",
        obj(
            {"skill": {"type": "string", "minLength": 1}, "arguments": {"type": "object"}},
            ["skill"],
        ),
        risk="(tool)",
    ),
    NodeType(
        "action.llm_prompt",
        "Asks the tenant's model: a templated prompt; `schema` constrains the answer to JSON "
        "that validates against it (the output is then the parsed object).",
        obj(
            {
                "prompt": {"type": "string", "minLength": 1},
                "system": {"type": "string"},
                "model": {"type": "string"},
                "schema": {"type": "object"},
                "maxTokens": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 32768}, EXPR]},
            },
            ["prompt"],
        ),
        risk="Low",
    ),
    NodeType(
        "action.send_message",
        "Posts a message: into a chat session of the run's user (`sessionId`), or as a "
        "notification to them.",
        obj(
            {
                "text": {"type": "string", "minLength": 1},
                "title": {"type": "string"},
                "sessionId": {"type": "string"},
            },
            ["text"],
        ),
        risk="Medium",
    ),
    NodeType(
        "action.execute_code",
        "Runs Python 3 in the sandbox (no network, no host files, limits); the output is "
        "`{exitCode, stdout, stderr}`; a non-zero exit fails the node.",
        obj({"code": {"type": "string", "minLength": 1}}, ["code"]),
        risk="High",
    ),
    NodeType(
        "action.api_call",
        "An HTTP request through the SSRF-guarded client; the output is `{status, headers, "
        "body}` (JSON parsed). A status of 400 or more fails the node.",
        obj(
            {
                "url": {"type": "string", "minLength": 1},
                "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "query": {"type": "object"},
                "body": {},
            },
            ["url"],
        ),
        risk="Medium",
    ),
    NodeType(
        "logic.if_else",
        'Evaluates `condition`; outgoing edges `when: "true"` or `when: "false"` are taken.',
        obj({"condition": {"anyOf": [{"type": "string"}, {"type": "boolean"}]}}, ["condition"]),
        labels=("true", "false"),
    ),
    NodeType(
        "logic.switch",
        'Evaluates `value`; the edge whose `when` equals it is taken, else `when: "default"`.',
        obj(
            {"value": {}, "cases": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
            ["value", "cases"],
        ),
        free_labels=True,
    ),
    NodeType(
        "logic.loop",
        "Runs `do` (one inline step; an inline `workflow.run` starts a child per item without "
        "waiting) once per item of `items`, "
        "with `$item` and `$index`; at most `maxIterations` (and the Gateway's cap). The output "
        "is the list of results. Each finished iteration is kept: a restart goes on from the "
        "next.",
        obj(
            {
                "items": {"anyOf": [{"type": "array"}, EXPR]},
                "maxIterations": {"type": "integer", "minimum": 1},
                "do": INLINE_STEP,
            },
            ["items", "do"],
        ),
        risk="(inner)",
    ),
    NodeType(
        "logic.wait",
        "A durable timer: `seconds` or `until` (ISO 8601). No worker is held while waiting and "
        "the wait survives restarts.",
        {
            "oneOf": [
                obj({"seconds": number()}, ["seconds"]),
                obj({"until": {"type": "string", "minLength": 1}}, ["until"]),
            ]
        },
    ),
    NodeType(
        "logic.parallel",
        'Runs `branches` (inline steps) concurrently; `join: "all"` waits for every one '
        '(output: their outputs in order), `"first"` for the first to finish (output: its '
        "output).",
        obj(
            {
                "branches": {"type": "array", "items": INLINE_STEP, "minItems": 1},
                "join": {"enum": ["all", "first"]},
            },
            ["branches"],
        ),
        risk="(inner)",
    ),
    NodeType(
        "data.transform",
        "Builds `output` with every expression in it evaluated.",
        obj({"output": {}, "set": {"type": "object"}}, ["output"]),
    ),
    NodeType(
        "approval.gate",
        "Asks for a person's approval (the approvals API); the run waits as `Waiting`. Approved: "
        'edges without `when` or `when: "approved"`. Rejected or timed out: `onReject` '
        '`fail` (default) ends the run Failed, `route` takes `when: "rejected"` edges.',
        obj(
            {
                "message": {"type": "string", "minLength": 1},
                "timeoutSeconds": number(1),
                "onReject": {"enum": ["fail", "route"]},
            },
            ["message"],
        ),
        labels=("approved", "rejected"),
    ),
    NodeType(
        "workflow.run",
        "Runs another workflow of the tenant as a child task and (with `wait`, the default) "
        "continues with its output.",
        obj(
            {
                "workflowId": {"type": "string", "minLength": 1},
                "input": {},
                "wait": {"type": "boolean"},
            },
            ["workflowId"],
        ),
        risk="Low",
    ),
]

NODE_TYPES: dict[str, NodeType] = {t.name: t for t in _TYPES}

NODE_FIELDS: dict[str, Any] = {
    "retry": obj(
        {
            "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 20},
            "backoffSeconds": {"type": "number", "minimum": 0, "maximum": 86400},
        }
    ),
    "timeoutSeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
    "onError": {"enum": ["fail", "continue", "route"]},
}
"""Fields every node may carry beside `config`."""
