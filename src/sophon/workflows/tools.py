"""The agent tools: `workflow.list` (None), `workflow.trigger` (Medium: starts a run with the
`agent` trigger) and `workflow.create` (High: asks for approval before the call, and the
workflow an agent wrote is enabled only once its activation is approved too). They act for the
user of the agent's session, with that user's permissions as they are now."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field
from sqlalchemy import select

from sophon.cron.context import CronContext
from sophon.identity.auth import principals
from sophon.platform.errors import DomainError
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool, ToolRegistry
from sophon.workflows import run_service as runs
from sophon.workflows.models import Workflow


class ListArguments(ToolArguments):
    limit: int = Field(20, ge=1, le=100)


class TriggerArguments(ToolArguments):
    workflow_id: str = Field(min_length=1, max_length=40, description="A workflow id (`wf_…`).")
    input: dict[str, Any] = Field(default_factory=dict, description="`$input` of the run.")


class CreateArguments(ToolArguments):
    definition: dict[str, Any] = Field(
        description="{name, trigger {type}, nodes [{id, type, config}], edges [{from, to, "
        "when?}], vars}; node types and their configs: GET /api/workflows/node-types."
    )


def _needs(principal: Principal, *any_of: Permission) -> str | None:
    if any(principal.can(p) for p in any_of):
        return None
    return f"Your user lacks the {any_of[0].value} permission."


def workflow_tools(registry: ToolRegistry, schedules: CronContext) -> list[Tool]:
    async def run_list(context: ToolContext, arguments: ListArguments) -> ToolResult:
        if context.database is None or context.tenant_id is None or context.principal_id is None:
            return ToolResult.error("No user to act for.")
        async with context.database.transaction(readonly=True, tenant_id=context.tenant_id) as db:
            principal = await principals.for_user(db, context.principal_id, context.tenant_id)
            refused = _needs(principal, Permission.VIEW_WORKFLOWS, Permission.MANAGE_WORKFLOWS)
            if refused:
                return ToolResult.error(refused)
            rows = (
                await db.scalars(
                    select(Workflow).order_by(Workflow.id.desc()).limit(arguments.limit)
                )
            ).all()
        items = [
            {
                "id": w.id,
                "name": w.name,
                "description": w.description,
                "enabled": w.enabled,
                "paused": w.paused,
                "triggerType": w.trigger_type,
            }
            for w in rows
        ]
        return ToolResult(content=json.dumps(items, ensure_ascii=False), data={"items": items})

    async def run_trigger(context: ToolContext, arguments: TriggerArguments) -> ToolResult:
        from sophon.workflows import service as workflows  # with cron's service, on first use

        if context.database is None or context.tenant_id is None or context.principal_id is None:
            return ToolResult.error("No user to act for.")
        try:
            async with context.database.transaction(tenant_id=context.tenant_id) as db:
                principal = await principals.for_user(db, context.principal_id, context.tenant_id)
                refused = _needs(principal, Permission.MANAGE_WORKFLOWS)
                if refused:
                    return ToolResult.error(refused)
                workflow = await workflows.get(db, arguments.workflow_id)
                if not workflow.enabled:
                    return ToolResult.error("The workflow is not enabled.")
                started = await runs.start(
                    db,
                    principal,
                    workflow,
                    user_id=principal.user_id,
                    trigger={"type": "agent", "agentId": context.agent_id},
                    input_=arguments.input,
                )
        except DomainError as error:
            return ToolResult.error(error.message, error.details)
        data = {"runId": started.run_id, "taskId": started.task_id}
        return ToolResult(content=json.dumps(data), data=data)

    async def run_create(context: ToolContext, arguments: CreateArguments) -> ToolResult:
        from sophon.workflows import service as workflows
        from sophon.workflows.definition import Limits

        if context.database is None or context.tenant_id is None or context.principal_id is None:
            return ToolResult.error("No user to act for.")
        settings = context.settings
        limits = Limits(settings.workflow_max_nodes, settings.workflow_max_definition_bytes)
        try:
            async with context.database.transaction(tenant_id=context.tenant_id) as db:
                principal = await principals.for_user(db, context.principal_id, context.tenant_id)
                refused = _needs(principal, Permission.MANAGE_WORKFLOWS)
                if refused:
                    return ToolResult.error(refused)
                workflow = await workflows.create(
                    db,
                    principal,
                    registry.for_tenant(context.tenant_id),
                    limits,
                    schedules,
                    arguments.definition,
                    agent_authored=True,
                    summary=f"written by the agent {context.agent_id}",
                )
                data = {
                    "id": workflow.id,
                    "approval": workflow.approval,
                    "approvalId": workflow.approval_id,
                    "enabled": workflow.enabled,
                }
        except DomainError as error:
            return ToolResult.error(error.message, error.details)
        return ToolResult(
            content=f"Saved workflow {data['id']}; it is enabled once the user approves "
            f"{data['approvalId']}.",
            data=data,
        )

    return [
        builtin_tool(
            "workflow.list",
            "Lists the tenant's saved workflows.",
            RiskLevel.NONE,
            ListArguments,
            run_list,
        ),
        builtin_tool(
            "workflow.trigger",
            "Starts a run of an enabled workflow; answers its runId and taskId.",
            RiskLevel.MEDIUM,
            TriggerArguments,
            run_trigger,
        ),
        builtin_tool(
            "workflow.create",
            "Saves a new workflow (a trigger and a DAG of nodes); "
            "the user approves it before it is enabled.",
            RiskLevel.HIGH,
            CreateArguments,
            run_create,
        ),
    ]
