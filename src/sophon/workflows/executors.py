"""What each node type does when it runs. An executor gets the node's config with its
expressions evaluated (control nodes evaluate their own) and answers a `Result`: an output and
the branch taken, a durable wait (the engine ends the job and wakes the run later), or an error.
Executors touch the database only through short transactions of their own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from jsonschema import ValidationError as SchemaError

from sophon.approvals import service as approvals
from sophon.chat import service as chat
from sophon.llm import ChatMessage, ChatRequest, ChatResponse
from sophon.platform.clock import iso, utcnow
from sophon.platform.db import Database
from sophon.platform.errors import BudgetExceeded, DomainError
from sophon.platform.events import Audience, Event, EventName, after_commit
from sophon.platform.http import outbound_client, split_allow_setting
from sophon.platform.ids import new_id
from sophon.platform.vault import Vault
from sophon.providers import routing, usage
from sophon.providers.connect import ProviderRuntime
from sophon.runtime.external import wrap
from sophon.settings import Settings
from sophon.tasks import service as tasks
from sophon.tenants import budget
from sophon.tools.invoke import (
    InvalidToolArguments,
    OutboundClientFactory,
    ToolContext,
    run_tool,
    validate_arguments,
)
from sophon.tools.registry import RiskLevel, ToolRegistry
from sophon.workflows import expressions

APPROVAL_KIND = "workflow"
MASKED = "••••••"
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


class NodeFailed(Exception):
    def __init__(self, message: str, code: str = "node_failed", output: Any = None) -> None:
        super().__init__(message)
        self.message, self.code, self.output = message, code, output


@dataclass(frozen=True)
class Wait:
    until: datetime
    state: dict[str, Any]
    recheck: bool = False
    """True: look again at `until` even if the awaited thing (an approval) is not decided."""


@dataclass
class Result:
    output: Any = None
    branch: str | None = None
    wait: Wait | None = None
    vars: dict[str, Any] | None = None


@dataclass
class Services:
    settings: Settings
    database: Database
    vault: Vault
    model_runtime: ProviderRuntime
    tools: ToolRegistry
    http_client: OutboundClientFactory | None = None
    start_child: Callable[..., Awaitable[dict[str, Any]]] | None = None


@dataclass
class Step:
    """One node (or inline step) about to run."""

    services: Services
    tenant_id: str
    run_id: str
    task_id: str
    user_id: str | None
    node_id: str
    type: str
    config: dict[str, Any]
    scope: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    checkpoint: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    trigger_type: str = "manual"
    inline: bool = False

    def resolved(self) -> dict[str, Any]:
        value = expressions.resolve(self.config, self.scope)
        return value if isinstance(value, dict) else {}


Executor = Callable[[Step], Awaitable[Result]]


def _now() -> datetime:
    return utcnow()


async def transform(step: Step) -> Result:
    config = step.resolved()
    return Result(output=config.get("output"), vars=config.get("set"))


async def if_else(step: Step) -> Result:
    value = expressions.resolve(step.config.get("condition"), step.scope)
    result = expressions.truthy(value)
    return Result(output={"result": result}, branch="true" if result else "false")


async def switch(step: Step) -> Result:
    value = expressions.resolve(step.config.get("value"), step.scope)
    cases = [str(c) for c in step.config.get("cases") or []]
    label = str(value) if str(value) in cases else "default"
    return Result(output={"value": value, "branch": label}, branch=label)


async def wait(step: Step) -> Result:
    if "until" in step.state:
        return Result(output={"waitedUntil": step.state["until"]})
    config = step.resolved()
    if "until" in config:
        try:
            until = datetime.fromisoformat(str(config["until"]).replace("Z", "+00:00"))
        except ValueError:
            raise NodeFailed(f"until is not an ISO 8601 instant: {config['until']!r}") from None
        if until.tzinfo is None:
            raise NodeFailed("until needs a time zone (e.g. Z).")
    else:
        try:
            seconds = float(config.get("seconds", 0))
        except (TypeError, ValueError):
            raise NodeFailed(f"seconds is not a number: {config.get('seconds')!r}") from None
        until = _now() + timedelta(seconds=max(seconds, 0))
    if until <= _now():
        return Result(output={"waitedUntil": iso(until)})
    return Result(wait=Wait(until, {"until": iso(until)}))


async def gate(step: Step) -> Result:
    config = step.resolved()
    timeout = float(config.get("timeoutSeconds") or step.services.settings.approval_timeout_seconds)
    async with step.services.database.transaction(tenant_id=step.tenant_id) as db:
        approval = approvals.create(
            db,
            kind=APPROVAL_KIND,
            tool_name="approval.gate",
            risk_level=RiskLevel.MEDIUM.value,
            arguments={"workflowRunId": step.run_id, "node": step.node_id},
            timeout_seconds=timeout,
            user_id=step.user_id,
            preview=str(config.get("message")),
            task_id=step.task_id,
        )
        expires = approval.expires_at
        approval_id = approval.id
    state = {"approvalId": approval_id, "onReject": config.get("onReject", "fail"), "gate": True}
    return Result(wait=Wait(expires, state))


def tool_context(step: Step) -> ToolContext:
    settings = step.services.settings
    return ToolContext(
        settings=settings,
        principal_id=step.user_id,
        tenant_id=step.tenant_id,
        deadline=time.monotonic() + settings.tool_timeout_seconds,
        http_client=step.services.http_client,
        database=step.services.database,
    )


async def skill(step: Step) -> Result:
    config = step.resolved()
    tool = step.services.tools.for_tenant(step.tenant_id).get(str(config.get("skill")))
    if tool is None:
        raise NodeFailed(f"No tool named {config.get('skill')!r} in the catalog.", "unknown_tool")
    arguments = step.state.get("approvedArguments")
    if arguments is None:
        try:
            arguments = validate_arguments(tool, config.get("arguments") or {})
        except InvalidToolArguments as error:
            raise NodeFailed(error.message, "invalid_tool_arguments") from None
        if tool.risk.at_least(RiskLevel.HIGH):
            if step.inline:
                raise NodeFailed(
                    f"{tool.name} needs an approval per call; run it from a node "
                    "of its own, not inside a loop or parallel branch."
                )
            settings = step.services.settings
            timeout = settings.approval_timeouts.get(tool.name, settings.approval_timeout_seconds)
            async with step.services.database.transaction(tenant_id=step.tenant_id) as db:
                approval = approvals.create(
                    db,
                    kind="tool",
                    tool_name=tool.name,
                    risk_level=tool.risk.value,
                    arguments=arguments,
                    timeout_seconds=timeout,
                    user_id=step.user_id,
                    task_id=step.task_id,
                )
                expires, approval_id = approval.expires_at, approval.id
            return Result(wait=Wait(expires, {"approvalId": approval_id, "tool": tool.name}))
    result = await run_tool(tool, tool_context(step), arguments)
    output: Any = dict(result.data) if result.data is not None else result.content
    if result.is_error:
        raise NodeFailed(result.content, "tool_failed", output)
    return Result(output=output)


async def execute_code(step: Step) -> Result:
    config = step.resolved()
    tool = step.services.tools.get("code.execute")
    if tool is None:
        raise NodeFailed("The sandbox is not available here.", "sandbox_unavailable")
    result = await run_tool(tool, tool_context(step), {"code": str(config.get("code"))})
    data = dict(result.data or {})
    if result.is_error or data.get("exitCode", 0) != 0:
        raise NodeFailed(result.content[:2000], "code_failed", data or result.content)
    return Result(output=data)


def mask_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    return {k: MASKED if k.lower() in SECRET_HEADERS else v for k, v in headers.items()}


async def api_call(step: Step) -> Result:
    config = step.resolved()
    settings = step.services.settings
    limit, timeout = settings.web_fetch_max_bytes, settings.web_fetch_timeout_seconds
    factory = step.services.http_client
    client = (
        factory(max_response_bytes=limit, total_timeout=timeout)
        if factory is not None
        else outbound_client(
            allow=split_allow_setting(settings.outbound_allow),
            timeout=httpx.Timeout(timeout),
            total_timeout=timeout,
            max_response_bytes=limit,
        )
    )
    body = config.get("body")
    try:
        async with client:
            response = await client.request(
                str(config.get("method", "GET")),
                str(config["url"]),
                headers={k: str(v) for k, v in (config.get("headers") or {}).items()},
                params=config.get("query") or None,
                json=body if body is not None and not isinstance(body, str) else None,
                content=body if isinstance(body, str) else None,
            )
    except (httpx.HTTPError, DomainError, OSError) as error:
        raise NodeFailed(f"The request failed: {error}", "request_failed") from None
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = response.text
    output = {"status": response.status_code, "headers": dict(response.headers), "body": parsed}
    if response.status_code >= 400:
        raise NodeFailed(f"The server answered {response.status_code}.", "http_error", output)
    return Result(output=output)


def _prompt_text(text: str, step: Step) -> str:
    """The prompt; every inserted value is wrapped as external content when the run was started
    from outside (a webhook or an event): a payload is data, never instructions."""
    if step.trigger_type in ("webhook", "event"):
        source = f"workflow:{step.trigger_type}"
        return expressions.render_wrapped(text, step.scope, lambda value: wrap(value, source))
    return str(expressions.resolve(text, step.scope))


async def _record_usage(step: Step, provider: str, answer: ChatResponse) -> None:
    """The call's tokens, as usage of kind `workflow` (the tenant's, the run's user's, the agent's
    when an agent started the run) and on the run's task."""
    agent_id = step.scope.get("trigger", {}).get("agentId")
    async with step.services.database.transaction(tenant_id=step.tenant_id) as db:
        usage.record(
            db,
            provider,
            answer,
            agent_id=str(agent_id) if agent_id else None,
            user_id=step.user_id,
            session_id=None,
            task_id=step.task_id,
            kind=usage.WORKFLOW,
        )
        task = await tasks.lock(db, step.task_id)
        if task is not None:
            tasks.add_tokens(task, answer.usage.input_tokens, answer.usage.output_tokens)


async def llm_prompt(step: Step) -> Result:
    config = step.config
    prompt = _prompt_text(str(config.get("prompt")), step)
    schema = config.get("schema")
    system = str(expressions.resolve(config.get("system") or "", step.scope))
    if schema is not None:
        system += "\nAnswer with JSON only, valid against this JSON Schema:\n" + json.dumps(schema)
    model = expressions.resolve(config.get("model"), step.scope)
    async with step.services.database.transaction(readonly=True, tenant_id=step.tenant_id) as db:
        try:
            left = await budget.require_tokens(db, step.tenant_id)
        except BudgetExceeded as error:
            raise NodeFailed(error.message, error.code) from None
        planned = await routing.plan(db, step.services.vault, str(model) if model else None)
    messages = ([ChatMessage.system(system)] if system.strip() else []) + [ChatMessage.user(prompt)]
    max_tokens = int(config.get("maxTokens") or 1024)
    request = ChatRequest(
        model="",
        messages=messages,
        max_tokens=min(max_tokens, left) if left is not None else max_tokens,
        response_format=(
            {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
            if schema is not None
            else None
        ),
    )
    try:
        candidate, answer = await routing.complete_with(
            step.services.model_runtime, planned, request
        )
    except DomainError as error:
        raise NodeFailed(error.message, error.code) from None
    await _record_usage(step, candidate.name, answer)
    usage = {"inputTokens": answer.usage.input_tokens, "outputTokens": answer.usage.output_tokens}
    if schema is None:
        return Result(output={"text": answer.content, "model": answer.model, "usage": usage})
    try:
        start = min(i for i in (answer.content.find("{"), answer.content.find("[")) if i >= 0)
        value, _ = json.JSONDecoder().raw_decode(answer.content[start:])
        Draft202012Validator(schema).validate(value)
    except (ValueError, SchemaError) as error:
        raise NodeFailed(
            f"The model's answer is not JSON valid against the schema: {str(error)[:300]}",
            "invalid_model_output",
            {"text": answer.content},
        ) from None
    return Result(output=value)


async def send_message(step: Step) -> Result:
    config = step.resolved()
    text = str(config.get("text"))
    async with step.services.database.transaction(tenant_id=step.tenant_id) as db:
        session_id = config.get("sessionId")
        if session_id:
            session = await chat.get_session_any(db, str(session_id))
            if session is None or session.user_id != step.user_id:
                raise NodeFailed(f"No chat session {session_id} of the run's user.", "not_found")
            message = chat.append_message(
                db, session, "assistant", text, meta={"workflowRunId": step.run_id}
            )
            return Result(output={"delivered": "session", "messageId": message.id})
        if step.user_id is None:
            raise NodeFailed("The run has no user to notify.", "no_recipient")
        notification_id = new_id("ntf")
        after_commit(
            db,
            Event(
                EventName.NOTIFICATION.value,
                {
                    "id": notification_id,
                    "kind": "workflow",
                    "title": str(config.get("title") or "Workflow"),
                    "body": text[:2000],
                    "taskId": step.task_id,
                    "runId": step.run_id,
                    "at": iso(_now()),
                },
                tenant_id=step.tenant_id,
                audience=Audience(user_ids=frozenset({step.user_id})),
            ),
        )
    return Result(output={"delivered": "notification", "notificationId": notification_id})


async def sub_workflow(step: Step) -> Result:
    if "childRunId" in step.state:  # resumed: the engine decided the child's outcome
        return Result(output=step.state.get("childOutput"))
    config = step.resolved()
    if step.services.start_child is None:
        raise NodeFailed("Sub-workflows can't start here.")
    started = await step.services.start_child(step, str(config["workflowId"]), config.get("input"))
    if config.get("wait", True) is False or step.inline:
        return Result(output=started)
    return Result(
        wait=Wait(
            _now() + timedelta(seconds=step.services.settings.workflow_wake_seconds),
            {"childRunId": started["runId"], "childTaskId": started["taskId"]},
            recheck=True,
        )
    )


def _inline(step: Step, inner: dict[str, Any], scope: dict[str, Any], key: str) -> Step:
    return replace(
        step,
        type=inner["type"],
        config=inner.get("config") or {},
        scope=scope,
        state={},
        inline=True,
        node_id=f"{step.node_id}{key}",
    )


async def loop(step: Step) -> Result:
    items = expressions.resolve(step.config.get("items"), step.scope)
    if not isinstance(items, list):
        raise NodeFailed(f"items is not a list (it is {type(items).__name__}).", "not_a_list")
    cap = min(
        int(step.config.get("maxIterations") or len(items) or 1),
        step.services.settings.workflow_max_loop_iterations,
    )
    if len(items) > cap:
        raise NodeFailed(
            f"The loop has {len(items)} items; at most {cap} iterations are allowed.",
            "too_many_iterations",
        )
    results: list[Any] = list(step.state.get("results", []))
    inner = step.config["do"]
    for index in range(len(results), len(items)):
        scope = {**step.scope, "item": items[index], "index": index}
        result = await EXECUTORS[inner["type"]](_inline(step, inner, scope, f"[{index}]"))
        results.append(result.output)
        if step.checkpoint is not None:
            await step.checkpoint({"results": results})
    return Result(output=results)


async def parallel(step: Step) -> Result:
    branches = list(step.config["branches"])
    done: dict[str, Any] = dict(step.state.get("done", {}))
    join = step.config.get("join", "all")
    if join == "first" and done:
        return Result(output=next(iter(done.values())))

    async def branch(index: int) -> tuple[int, Any]:
        inner = branches[index]
        result = await EXECUTORS[inner["type"]](_inline(step, inner, step.scope, f"/{index}"))
        return index, result.output

    pending = {asyncio.ensure_future(branch(i)) for i in range(len(branches)) if str(i) not in done}
    try:
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in finished:
                index, output = future.result()
                done[str(index)] = output
                if step.checkpoint is not None:
                    await step.checkpoint({"done": done})
                if join == "first":
                    return Result(output=output)
    finally:
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return Result(output=[done[str(i)] for i in range(len(branches))])


EXECUTORS: dict[str, Executor] = {
    "action.skill": skill,
    "action.llm_prompt": llm_prompt,
    "action.send_message": send_message,
    "action.execute_code": execute_code,
    "action.api_call": api_call,
    "logic.if_else": if_else,
    "logic.switch": switch,
    "logic.loop": loop,
    "logic.wait": wait,
    "logic.parallel": parallel,
    "data.transform": transform,
    "approval.gate": gate,
    "workflow.run": sub_workflow,
}
