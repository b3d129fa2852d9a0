"""Workflows: create, change (every change a new version), delete, pause and resume, clone,
restore a version; the activation rule (a workflow with any step at Medium risk or above, or
written by an agent, needs an approval before it is enabled, and again after a change to such
a step). HTTP-free."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals import actions
from sophon.approvals import service as approvals
from sophon.approvals.models import Approval, ApprovalStatus
from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.cron.context import CronContext
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.platform.vault import Vault
from sophon.tools.registry import RiskLevel, ToolRegistry
from sophon.workflows import engine, schedule
from sophon.workflows import run_service as runs
from sophon.workflows.definition import Limits, validate
from sophon.workflows.models import ApprovalState, RunStatus, Workflow, WorkflowVersion

ACTIVATE = "workflow.activate"
EDITABLE = ("name", "description", "enabled", "trigger", "nodes", "edges", "vars")


def listed() -> Select[Workflow]:
    return select(Workflow)


async def get(db: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await db.scalar(select(Workflow).where(Workflow.id == workflow_id))
    if workflow is None:
        raise NotFound("No such workflow.", {"workflowId": workflow_id})
    return workflow


def export(workflow: Workflow) -> dict[str, Any]:
    """The definition JSON as the seed writes it."""
    body = dict(workflow.definition)
    return {"id": workflow.id, "version": workflow.version, **body, "enabled": workflow.enabled}


def _risky_nodes(definition: dict[str, Any], tools: ToolRegistry, limits: Limits) -> list[Any]:
    """The nodes at Medium risk or above, as they are defined (to notice a change to one)."""
    risky = []
    for node in definition.get("nodes", []):
        single = {**definition, "nodes": [node], "edges": []}
        if RiskLevel(validate(single, tools, limits).risk).at_least(RiskLevel.MEDIUM):
            risky.append(node)
    return risky


def _needs_approval(workflow: Workflow, risk: str) -> bool:
    return workflow.agent_authored or RiskLevel(risk).at_least(RiskLevel.MEDIUM)


async def _ask_activation(db: AsyncSession, principal: Principal, workflow: Workflow) -> None:
    approval = await approvals.request_action(
        db,
        principal,
        action=ACTIVATE,
        tool_name="workflow.activate",
        risk_level=workflow.risk,
        arguments={"workflowId": workflow.id, "version": workflow.version},
        preview=f"Enable the workflow {workflow.name!r} (version {workflow.version}, risk "
        f"{workflow.risk}): {len(workflow.definition.get('nodes', []))} nodes.",
    )
    workflow.approval = ApprovalState.PENDING.value
    workflow.approval_id = approval.id
    workflow.enabled = False


async def _still_pending(db: AsyncSession, approval_id: str | None) -> bool:
    """Whether the activation approval still waits (a rejected or expired one asks anew)."""
    if approval_id is None:
        return False
    approval = await approvals.expire_if_due(db, approval_id)
    return approval is not None and approval.status == ApprovalStatus.PENDING.value


async def _on_activate(db: AsyncSession, approval: Approval) -> None:
    workflow = await db.scalar(
        select(Workflow).where(Workflow.id == str(approval.arguments.get("workflowId")))
    )
    if workflow is None or workflow.approval_id != approval.id:
        return  # changed again since: a newer approval decides
    workflow.approval = ApprovalState.APPROVED.value
    workflow.enabled = True


actions.register(ACTIVATE, _on_activate)


def _version(
    db: AsyncSession, principal: Principal, workflow: Workflow, summary: str
) -> WorkflowVersion:
    version = WorkflowVersion(
        id=new_id("wfv"),
        tenant_id=workflow.tenant_id,
        workflow_id=workflow.id,
        number=workflow.version,
        definition=dict(workflow.definition),
        summary=summary,
        actor_user_id=principal.user_id,
        actor_email=principal.email,
        created_at=utcnow(),
    )
    db.add(version)
    return version


@audited("workflow.create")
async def create(
    db: AsyncSession,
    principal: Principal,
    tools: ToolRegistry,
    limits: Limits,
    schedules: CronContext,
    raw: Any,
    *,
    agent_authored: bool = False,
    summary: str = "created",
) -> Workflow:
    checked = validate(raw, tools, limits)
    definition = checked.definition
    enabled = definition.pop("enabled")
    workflow = Workflow(
        id=new_id("wf"),
        name=definition["name"],
        description=definition["description"],
        version=1,
        enabled=False,
        paused=False,
        trigger_type=definition["trigger"]["type"],
        definition=definition,
        risk=checked.risk,
        owner_id=principal.user_id,
        agent_authored=agent_authored,
    )
    db.add(workflow)
    await db.flush()
    _version(db, principal, workflow, summary)
    if not _needs_approval(workflow, checked.risk):
        workflow.enabled = bool(enabled)
    elif enabled or agent_authored:
        await _ask_activation(db, principal, workflow)
    else:
        workflow.approval = ApprovalState.REQUIRED.value
    await schedule.sync(db, principal, schedules, workflow.id, definition["trigger"])
    await audit.record(
        db,
        principal,
        "workflow.create",
        ("workflow", workflow.id),
        details={"name": workflow.name, "risk": workflow.risk, "agentAuthored": agent_authored},
    )
    return workflow


def _summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    changed = [key for key in EDITABLE if before.get(key) != after.get(key)]
    old_ids = {n["id"] for n in before.get("nodes", [])}
    new_ids = {n["id"] for n in after.get("nodes", [])}
    parts = [f"changed {', '.join(changed)}" if changed else "no change"]
    if new_ids - old_ids:
        parts.append(f"added {', '.join(sorted(new_ids - old_ids))}")
    if old_ids - new_ids:
        parts.append(f"removed {', '.join(sorted(old_ids - new_ids))}")
    return "; ".join(parts)


@audited("workflow.update", "workflow.enable")
async def update(
    db: AsyncSession,
    principal: Principal,
    tools: ToolRegistry,
    limits: Limits,
    schedules: CronContext,
    workflow_id: str,
    changes: dict[str, Any],
    *,
    summary: str | None = None,
) -> Workflow:
    """Applies the fields given (a partial definition); every change is a new version."""
    workflow = await get(db, workflow_id)
    await db.refresh(workflow, with_for_update=True)
    before = {**workflow.definition, "enabled": workflow.enabled}
    merged = {**before, **{k: v for k, v in changes.items() if k in EDITABLE}}
    checked = validate(merged, tools, limits)
    definition = checked.definition
    enable = definition.pop("enabled")
    risky_before = _risky_nodes(workflow.definition, tools, limits)
    risky_after = _risky_nodes(definition, tools, limits)
    definition_changed = definition != workflow.definition
    if definition_changed:
        workflow.version += 1
        workflow.definition = definition
        workflow.name = definition["name"]
        workflow.description = definition["description"]
        workflow.trigger_type = definition["trigger"]["type"]
        workflow.risk = checked.risk
        _version(
            db, principal, workflow, summary or _summary(before, {**definition, "enabled": enable})
        )
        await schedule.sync(db, principal, schedules, workflow.id, definition["trigger"])
    action = "workflow.update" if definition_changed else "workflow.enable"
    if not _needs_approval(workflow, checked.risk):
        workflow.approval = ApprovalState.NOT_NEEDED.value
        workflow.enabled = enable
    elif (
        workflow.approval == ApprovalState.APPROVED.value
        and risky_before == risky_after
        and not (workflow.agent_authored and definition_changed)
    ):
        workflow.enabled = enable
    elif (
        workflow.approval == ApprovalState.PENDING.value
        and not definition_changed
        and await _still_pending(db, workflow.approval_id)
    ):
        pass  # the activation already asked for decides
    elif enable or workflow.enabled:
        await _ask_activation(db, principal, workflow)
    else:
        workflow.approval = ApprovalState.REQUIRED.value
        workflow.approval_id = None
    await audit.record(
        db,
        principal,
        action,
        ("workflow", workflow.id),
        details={
            "version": workflow.version,
            "enabled": workflow.enabled,
            "approval": workflow.approval,
        },
    )
    return workflow


@audited("workflow.delete")
async def delete(
    db: AsyncSession, principal: Principal, schedules: CronContext, workflow_id: str
) -> None:
    """Deletes the workflow, its versions, runs and schedule; runs in flight are cancelled
    first."""
    workflow = await get(db, workflow_id)
    await schedule.sync(db, principal, schedules, workflow.id, None)
    for run in await runs.active_runs(db, workflow.id):
        await runs.end_run(
            db,
            run,
            RunStatus.CANCELLED,
            {"code": "workflow_deleted", "message": "The workflow was deleted."},
        )
    await db.flush()
    await db.delete(workflow)
    await audit.record(
        db, principal, "workflow.delete", ("workflow", workflow_id), details={"name": workflow.name}
    )


@audited("workflow.pause", "workflow.resume")
async def set_paused(
    db: AsyncSession, principal: Principal, workflow_id: str, paused: bool
) -> Workflow:
    """Paused: triggers are ignored and runs in flight stop at their next node boundary; resumed:
    they go on."""
    workflow = await get(db, workflow_id)
    await db.refresh(workflow, with_for_update=True)
    if workflow.paused == paused:
        return workflow
    workflow.paused = paused
    if not paused:
        await engine.resume_paused(db, workflow.id)
    action = "workflow.pause" if paused else "workflow.resume"
    await audit.record(db, principal, action, ("workflow", workflow.id))
    return workflow


@audited("workflow.create")
async def clone(
    db: AsyncSession,
    principal: Principal,
    tools: ToolRegistry,
    limits: Limits,
    schedules: CronContext,
    workflow_id: str,
    name: str | None,
) -> Workflow:
    source = await get(db, workflow_id)
    raw = {**source.definition, "name": name or f"{source.name} (copy)", "enabled": False}
    return await create(
        db, principal, tools, limits, schedules, raw, summary=f"cloned from {source.id}"
    )


def history(workflow_id: str) -> Select[WorkflowVersion]:
    return select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id)


@audited("workflow.update", "workflow.enable")
async def restore(
    db: AsyncSession,
    principal: Principal,
    tools: ToolRegistry,
    limits: Limits,
    schedules: CronContext,
    workflow_id: str,
    number: int,
) -> Workflow:
    """A new version whose definition is version `number`'s."""
    old = await db.scalar(history(workflow_id).where(WorkflowVersion.number == number))
    if old is None:
        await get(db, workflow_id)
        raise NotFound("No such version.", {"version": number})
    workflow = await get(db, workflow_id)
    if old.definition == workflow.definition:
        raise Conflict("That version is the current definition.", {"version": number})
    changes = {k: old.definition.get(k) for k in EDITABLE if k != "enabled"}
    return await update(
        db,
        principal,
        tools,
        limits,
        schedules,
        workflow_id,
        changes,
        summary=f"restored version {number}",
    )


SECRET_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@audited("workflow.secrets")
async def set_secrets(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    workflow_id: str,
    changes: dict[str, str | None],
) -> Workflow:
    """Sets (a value) or removes (null) secrets, kept encrypted by the vault; only their names
    are ever shown. Runs read them as `$secrets.<name>`; records mask their values."""
    workflow = await get(db, workflow_id)
    await db.refresh(workflow, with_for_update=True)
    bad = [name for name in changes if not SECRET_NAME.match(name)]
    if bad:
        raise ValidationFailed(
            "Secret names are letters, digits and _ (1-64).", {"field": "secrets", "names": bad}
        )
    kept = dict(workflow.secrets or {})
    for name, value in changes.items():
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = vault.encrypt(value, f"{workflow.id}:{name}")
    workflow.secrets = kept
    await audit.record(
        db,
        principal,
        "workflow.secrets",
        ("workflow", workflow.id),
        details={
            "set": sorted(n for n, v in changes.items() if v is not None),
            "removed": sorted(n for n, v in changes.items() if v is None),
        },
    )
    return workflow
