"""Planning: whether a request gets an execution plan (the modes Auto, LlmDecides, Always,
Never), asking the model for one, and the plan's risk (the riskiest tool a step names)."""

from __future__ import annotations

import json
import re
from typing import Any

from sophon.runtime.tools.registry import RiskLevel, ToolRegistry

CONJUNCTIONS = ("and then", "after that", "first", "then")
MULTI_STEP = ("steps", "plan", "sequence")
ACTION_VERBS = (
    "find", "search", "write", "send", "create", "fetch", "read", "update", "delete", "run",
    "execute", "summarise", "summarize", "compare", "analyse", "analyze", "schedule", "email",
    "book", "download", "upload", "calculate", "check", "draft", "review", "list",
)  # fmt: skip
PLAN_THRESHOLD = 3
MAX_STEPS = 12

PLAN_INSTRUCTION = (
    "Before acting, make a short plan for the request below. Reply with JSON only, no prose: "
    '{"goal": "...", "steps": [{"description": "...", "toolHints": ["tool.name"], '
    '"dependsOn": [0]}]}. Use only these tools in toolHints: '
)
DECIDE_INSTRUCTION = (
    "Does the following request need a multi-step plan? Answer with one word, yes or no.\n\n"
)


def heuristic_score(text: str) -> int:
    lowered = text.lower()
    score = 1 if len(text) > 100 else 0
    if any(re.search(rf"\b{re.escape(c)}\b", lowered) for c in CONJUNCTIONS):
        score += 2
    if any(re.search(rf"\b{w}\b", lowered) for w in MULTI_STEP):
        score += 2
    verbs = {v for v in ACTION_VERBS if re.search(rf"\b{v}\b", lowered)}
    if len(verbs) >= 2:
        score += 1
    return score


def heuristic_wants_plan(text: str) -> bool:
    return heuristic_score(text) >= PLAN_THRESHOLD


def parse_decision(answer: str) -> bool | None:
    word = answer.strip().lower()
    if word.startswith("yes"):
        return True
    if word.startswith("no"):
        return False
    return None


def parse_plan(text: str, registry: ToolRegistry) -> dict[str, Any] | None:
    """The plan in a model's answer (the first JSON object in it), normalised; None if absent."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        raw = json.loads(text[start : end + 1])
    except ValueError:
        return None
    steps = raw.get("steps") if isinstance(raw, dict) else None
    if not isinstance(steps, list) or not steps:
        return None
    plan_steps = []
    for index, step in enumerate(steps[:MAX_STEPS]):
        if not isinstance(step, dict):
            return None
        hints = [h for h in step.get("toolHints") or [] if isinstance(h, str)]
        risk = max(
            (t.risk for h in hints if (t := registry.get(h)) is not None),
            key=lambda r: r.rank,
            default=RiskLevel.LOW,
        )
        plan_steps.append(
            {
                "id": f"step_{index + 1}",
                "description": str(step.get("description", "")),
                "toolHints": hints,
                "dependsOn": [d for d in step.get("dependsOn") or [] if isinstance(d, int)],
                "estimatedRisk": risk.value,
            }
        )
    return {"goal": str(raw.get("goal", "")), "steps": plan_steps}


def plan_risk(plan: dict[str, Any]) -> RiskLevel:
    return max((RiskLevel(s["estimatedRisk"]) for s in plan["steps"]), key=lambda r: r.rank)
