"""The tool calls of one model answer: the approval gate (High and above per call, Medium only
through a plan, heartbeat runs capped), parallel execution, and their persisted outcomes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.approvals import service as approvals
from sophon.approvals.models import Approval, ApprovalStatus
from sophon.chat import service as chat
from sophon.chat.models import ChatSession, Message
from sophon.llm import ChatResponse, ToolCall
from sophon.platform.events import EventName
from sophon.runtime.errors import TurnCancelled
from sophon.tools.invoke import (
    InvalidToolArguments,
    ToolContext,
    ToolResult,
    run_tool,
    validate_arguments,
)
from sophon.tools.registry import RiskLevel, Tool, ToolRegistry

if TYPE_CHECKING:
    from sophon.runtime.step import Turn, TurnScope

RESULT_CHARS = 65_536
PREVIEW_CHARS = 2_000
INTERRUPTED = (
    "Interrupted: the Gateway restarted while this call was running; it may or may not have "
    "taken effect."
)
AWAITING = "awaiting_approval"
REFUSED = frozenset({"failed", "rejected", "skipped"})
"""Statuses a call without a result has only when it was refused: it never ran."""


@dataclass
class Outcome:
    """What happens to one call: run with `arguments`, or answer the model with `error`."""

    call: ToolCall
    tool: Tool | None
    status: str = "pending"
    arguments: dict[str, Any] | None = None
    error: str | None = None
    approval_id: str | None = None
    result: ToolResult | None = None

    def refuse(self, status: str, message: str) -> None:
        self.status, self.error, self.arguments = status, message, None


def entry(registry: ToolRegistry, call: ToolCall) -> dict[str, Any]:
    tool = registry.get(call.name)
    return {
        "id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "result": None,
        "status": "pending",
        "riskLevel": tool.risk.value if tool is not None else "Unknown",
        "approvalId": None,
    }


def awaiting_approval(message: Message, answered: set[str | None]) -> bool:
    """Whether a restart caught this batch waiting for approvals: then none of its calls ran."""
    calls = message.tool_calls
    return any(c["status"] == AWAITING for c in calls) and not answered & {c["id"] for c in calls}


def interrupt_unanswered(
    db: AsyncSession,
    session: ChatSession,
    task_id: str,
    message: Message,
    answered: set[str | None],
) -> None:
    """Calls a crash left without a result get an error result (never re-run blindly): a refused
    call its refusal, one that may have been running `INTERRUPTED`."""
    entries = []
    for item in message.tool_calls:
        if item["id"] not in answered:
            refused = item["status"] in REFUSED
            if not refused:
                item = {**item, "status": "interrupted", "result": INTERRUPTED}
            content = str(item["result"] or "") if refused else INTERRUPTED
            _tool_message(db, session, task_id, str(item["id"]), str(item["name"]), content, True)
        entries.append(item)
    chat.set_tool_calls(message, entries)


def _tool_message(
    db: AsyncSession,
    session: ChatSession,
    task_id: str,
    call_id: str,
    name: str,
    content: str,
    is_error: bool,
    source: str | None = None,
) -> Message:
    """The call's result; `source`: the wrapper source its tool declares (kept with the message,
    so the history wraps it as its tool said even once the tool is gone)."""
    meta: dict[str, Any] = {"toolName": name, "isError": is_error}
    if source is not None:
        meta["source"] = source
    return chat.append_message(
        db,
        session,
        "tool",
        content[:RESULT_CHARS],
        task_id=task_id,
        tool_call_id=call_id,
        meta=meta,
    )


def _gate(scope: TurnScope, turn: Turn, outcome: Outcome, allowed: set[str]) -> bool:
    """Decides what needs no person; True when the call must wait for an approval."""
    call, tool = outcome.call, outcome.tool
    if tool is None or call.name not in allowed:
        outcome.refuse("failed", f"The tool {call.name} is not available to this agent.")
        return False
    if call.arguments_error:
        outcome.refuse("failed", f"Invalid arguments for {call.name}: {call.arguments_error}.")
        return False
    try:  # before any approval: a person approves the arguments that will run, defaults and all
        outcome.arguments = validate_arguments(tool, call.arguments)
    except InvalidToolArguments as invalid:
        outcome.refuse("failed", invalid.message)
        return False
    ceiling = RiskLevel(scope.settings.heartbeat_risk_ceiling)
    if turn.heartbeat and tool.risk.rank > ceiling.rank:
        outcome.refuse(
            "rejected",
            f"Heartbeat runs may not use {call.name} ({tool.risk.value} risk; "
            f"the ceiling is {ceiling.value}).",
        )
        return False
    if tool.risk.at_least(RiskLevel.HIGH):
        return True
    if tool.risk is RiskLevel.MEDIUM and turn.plan_approved is False:
        outcome.refuse("rejected", "The plan that included this call was rejected.")
        return False
    return False


async def run_calls(scope: TurnScope, turn: Turn, message_id: str, response: ChatResponse) -> None:
    registry = scope.catalog(turn)
    allowed = set(agents.effective_tools(registry, turn.agent))
    outcomes = [Outcome(call, registry.get(call.name)) for call in response.tool_calls]
    gated = [o for o in outcomes if _gate(scope, turn, o, allowed)]
    if gated:
        await _request_approvals(scope, turn, message_id, outcomes, gated)
    await _decide_and_run(scope, turn, message_id, outcomes, gated)


async def resume_calls(
    scope: TurnScope, turn: Turn, message_id: str, entries: list[dict[str, Any]]
) -> None:
    """The batch a restart caught waiting for approvals (none of its calls ran): waits on the
    same approvals again (a decision made meanwhile counts), then goes on as before."""
    outcomes = [_stored_outcome(scope.catalog(turn), item) for item in entries]
    gated = [o for o in outcomes if o.status == AWAITING]
    await _decide_and_run(scope, turn, message_id, outcomes, gated)


def _stored_outcome(registry: ToolRegistry, item: dict[str, Any]) -> Outcome:
    """An outcome as `_request_approvals` stored it: awaiting a decision, cleared to run with
    its checked arguments, or refused with its reason."""
    arguments = dict(item["arguments"])
    call = ToolCall(str(item["id"]), str(item["name"]), arguments, json.dumps(arguments))
    outcome = Outcome(call, registry.get(call.name), str(item["status"]), arguments)
    outcome.approval_id = item.get("approvalId")
    if outcome.status in REFUSED:
        outcome.refuse(outcome.status, str(item["result"] or ""))
    elif outcome.tool is None:
        outcome.refuse("failed", f"The tool {call.name} is no longer available.")
    return outcome


async def _decide_and_run(
    scope: TurnScope, turn: Turn, message_id: str, outcomes: list[Outcome], gated: list[Outcome]
) -> None:
    if gated:
        await scope.status(turn, "waiting_approval", ", ".join(o.call.name for o in gated))
        decisions = await asyncio.gather(
            *(scope.await_approval(turn, o.approval_id or "") for o in gated)
        )
        for outcome, decided in zip(gated, decisions, strict=True):
            _apply_decision(outcome, decided)
        # stored before anything runs: a restart from here on may find calls that ran
        async with scope.tx(turn) as db:
            await _update_entries(db, message_id, outcomes)
    runnable = [o for o in outcomes if o.arguments is not None]
    if runnable and not turn.stop.is_set():
        await scope.status(turn, "calling_tool", ", ".join(o.call.name for o in runnable))
        await asyncio.gather(*(_execute(scope, turn, o) for o in runnable))
    for outcome in runnable:
        if outcome.result is None:
            outcome.refuse("skipped", "Skipped: the task was cancelled before this call ran.")
    await _persist(scope, turn, message_id, outcomes)


def _apply_decision(outcome: Outcome, decided: Approval | None) -> None:
    if decided is None:
        outcome.refuse("skipped", "Skipped: the task was cancelled while awaiting approval.")
    elif decided.status == ApprovalStatus.APPROVED.value:
        outcome.status = "approved"
        outcome.arguments = decided.approved_arguments or decided.arguments
    elif decided.status == ApprovalStatus.REJECTED.value:
        reason = f": {decided.reason}" if decided.reason else "."
        outcome.refuse("rejected", f"The user rejected this call{reason}")
    else:
        outcome.refuse("rejected", "The approval timed out, so the call was not made.")


async def _request_approvals(
    scope: TurnScope, turn: Turn, message_id: str, outcomes: list[Outcome], gated: list[Outcome]
) -> None:
    """Creates the approvals and stores every outcome so far (a resumed turn reads them back)."""
    async with scope.tx(turn) as db:
        for outcome in gated:
            assert outcome.tool is not None
            assert outcome.arguments is not None
            approval = approvals.create(
                db,
                kind=approvals.KIND_TOOL,
                tool_name=outcome.call.name,
                risk_level=outcome.tool.risk.value,
                arguments=outcome.arguments,
                timeout_seconds=scope.approval_timeout(outcome.call.name),
                user_id=turn.task.user_id,
                editable=outcome.tool.editable_at_approval,
                task_id=turn.task.id,
                session_id=turn.session.id,
                agent_id=turn.agent.id,
                tool_call_id=outcome.call.id,
            )
            outcome.approval_id = approval.id
            outcome.status = AWAITING
        await _update_entries(db, message_id, outcomes)


async def _execute(scope: TurnScope, turn: Turn, outcome: Outcome) -> None:
    assert outcome.tool is not None
    assert outcome.arguments is not None
    name = outcome.call.name
    digest = hashlib.sha256(json.dumps(outcome.arguments, sort_keys=True).encode()).hexdigest()
    await scope.publish_live(
        turn, EventName.TOOL_CALL_STARTED, toolName=name, argsHash=digest[:16],
        toolCallId=outcome.call.id,
    )  # fmt: skip
    context = ToolContext(
        settings=scope.settings,
        principal_id=turn.task.user_id,
        tenant_id=turn.task.tenant_id,
        agent_id=turn.agent.id,
        session_id=turn.session.id,
        deadline=time.monotonic() + scope.settings.tool_timeout_seconds,
        database=scope.database,
        vault=scope.vault,
        model_runtime=scope.model_runtime,
    )
    started = time.monotonic()
    result = await run_tool(outcome.tool, context, outcome.arguments)
    outcome.result = result
    outcome.status = "failed" if result.is_error else "completed"
    await scope.publish_live(
        turn,
        EventName.TOOL_CALL_COMPLETED,
        toolName=name,
        durationMs=int((time.monotonic() - started) * 1000),
        ok=not result.is_error,
        toolCallId=outcome.call.id,
    )


async def _update_entries(db: AsyncSession, message_id: str, outcomes: list[Outcome]) -> None:
    message = await chat.get_message(db, message_id, for_update=True)
    if message is None:
        return
    by_id = {o.call.id: o for o in outcomes}
    entries = []
    for item in message.tool_calls:
        outcome = by_id.get(str(item["id"]))
        if outcome is not None:
            text = outcome.result.content if outcome.result is not None else outcome.error
            item = {
                **item,
                "status": outcome.status,
                "approvalId": outcome.approval_id,
                "arguments": outcome.arguments
                if outcome.arguments is not None
                else item["arguments"],
                "result": text[:PREVIEW_CHARS] if text is not None else None,
            }
        entries.append(item)
    chat.set_tool_calls(message, entries)


async def _persist(scope: TurnScope, turn: Turn, message_id: str, outcomes: list[Outcome]) -> None:
    async with scope.tx(turn) as db:
        session = await chat.lock_session(db, turn.session.id)
        if session is None:
            raise TurnCancelled
        await _update_entries(db, message_id, outcomes)
        for outcome in outcomes:
            if outcome.result is not None:
                content, is_error = outcome.result.content, outcome.result.is_error
            else:
                content, is_error = outcome.error or "", True
            source = outcome.tool.result_source if outcome.tool is not None else None
            _tool_message(
                db,
                session,
                turn.task.id,
                outcome.call.id,
                outcome.call.name,
                content,
                is_error,
                source,
            )
