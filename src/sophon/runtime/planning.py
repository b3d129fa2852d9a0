"""Planning: whether a request gets an execution plan (the modes Auto, LlmDecides, Always,
Never), asking the model for one, the plan's risk (the riskiest tool a step names) and its one
approval when a step is Medium or riskier."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sophon.approvals import service as approvals
from sophon.approvals.models import ApprovalStatus
from sophon.llm import ChatMessage, ChatRequest
from sophon.platform.errors import DomainError
from sophon.platform.ids import new_id
from sophon.runtime.errors import TurnCancelled
from sophon.tasks import service as tasks
from sophon.tools.registry import RiskLevel, ToolRegistry

if TYPE_CHECKING:
    from sophon.runtime.step import Turn, TurnScope

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


async def maybe_plan(scope: TurnScope, turn: Turn) -> None:
    if turn.heartbeat or not turn.tools:
        return
    if turn.task.plan is not None:  # resumed: the plan was made (and decided) before
        turn.plan = turn.task.plan
        turn.plan_approved = turn.plan.get("approved")
        return
    if turn.resumed and await _resume_asked_plan(scope, turn):
        return
    if not await _wants_plan(scope, turn):
        return
    hints = ", ".join(t.name for t in turn.tools)
    request = ChatRequest(
        model="",
        messages=[ChatMessage.user(f"{PLAN_INSTRUCTION}{hints}\n\nRequest: {turn.query}")],
        temperature=0.0,
    )
    await scope.status(turn, "thinking", "planning")
    candidate, response = await scope.complete(turn, request)
    await scope.record_usage(turn, candidate, response)
    plan = parse_plan(response.content, scope.catalog(turn))
    if plan is None:
        return
    plan["id"] = new_id("plan")
    turn.plan = plan
    if plan_risk(plan).at_least(RiskLevel.MEDIUM):
        turn.plan_approved = await approve_plan(scope, turn, plan)
        plan["approved"] = turn.plan_approved
    await _save_plan(scope, turn, plan)
    if turn.plan_approved is False:
        turn.plan = None


async def _resume_asked_plan(scope: TurnScope, turn: Turn) -> bool:
    """A restart caught the plan waiting for its approval: the same approval decides it (no new
    plan, no second approval). False when this turn never asked for one."""
    async with scope.tx(turn, readonly=True) as db:
        asked = await approvals.latest_for_task(db, turn.task.id, approvals.KIND_PLAN)
    if asked is None:
        return False
    arguments = asked.arguments
    plan = {"goal": arguments["goal"], "steps": arguments["steps"], "id": new_id("plan")}
    turn.plan = plan
    turn.plan_approved = plan["approved"] = await _decision(scope, turn, asked.id)
    await _save_plan(scope, turn, plan)
    if turn.plan_approved is False:
        turn.plan = None
    return True


async def _wants_plan(scope: TurnScope, turn: Turn) -> bool:
    mode = turn.agent.planning_mode
    if mode == "Never":
        return False
    if mode == "Always":
        return True
    if mode == "LlmDecides":
        request = ChatRequest(
            model="",
            messages=[ChatMessage.user(DECIDE_INSTRUCTION + turn.query)],
            temperature=0.0,
            max_tokens=3,
        )
        try:
            candidate, response = await scope.complete(turn, request)
            await scope.record_usage(turn, candidate, response)
            decided = parse_decision(response.content)
            if decided is not None:
                return decided
        except DomainError:
            pass
    return heuristic_wants_plan(turn.query)


async def _save_plan(scope: TurnScope, turn: Turn, plan: dict[str, Any]) -> None:
    async with scope.tx(turn) as db:
        await tasks.save_plan(db, turn.task.id, plan)


async def approve_plan(scope: TurnScope, turn: Turn, plan: dict[str, Any]) -> bool:
    """One approval for a plan with a step at Medium or above; True when approved."""
    steps = "\n".join(f"{n}. {s['description']}" for n, s in enumerate(plan["steps"], 1))
    async with scope.tx(turn) as db:
        approval = approvals.create(
            db,
            kind=approvals.KIND_PLAN,
            tool_name="plan",
            risk_level=plan_risk(plan).value,
            arguments={"goal": plan["goal"], "steps": plan["steps"]},
            timeout_seconds=scope.approval_timeout("plan"),
            user_id=turn.task.user_id,
            preview=f"Goal: {plan['goal']}\n{steps}",
            task_id=turn.task.id,
            session_id=turn.session.id,
            agent_id=turn.agent.id,
        )
    return await _decision(scope, turn, approval.id)


async def _decision(scope: TurnScope, turn: Turn, approval_id: str) -> bool:
    await scope.status(turn, "waiting_approval", "plan")
    decided = await scope.await_approval(turn, approval_id)
    if decided is None:
        raise TurnCancelled
    return decided.status == ApprovalStatus.APPROVED.value
