"""Approvals: a tool call (or a plan, or a gated action) waiting for a person. Created by the
agent runtime or a domain, decided through REST or the approvals hub, audited either way."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals import actions
from sophon.approvals.models import Approval, ApprovalStatus
from sophon.approvals.views import approval_out
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotAuthorized, NotFound, ValidationFailed
from sophon.platform.events import Audience, Event, EventName, after_commit
from sophon.platform.ids import new_id
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.platform.tenancy import session_tenant
from sophon.tasks import service as tasks
from sophon.tools.invoke import InvalidToolArguments, validate_arguments
from sophon.tools.registry import ToolRegistry

PREVIEW_CHARS = 4000
KIND_TOOL = "tool"
KIND_PLAN = "plan"
KIND_ACTION = "action"
TASK_ENDED = "The task ended before this was decided."


def preview_of(tool_name: str, arguments: dict[str, Any]) -> str:
    """What the approver reads: code and commands verbatim, other arguments as JSON."""
    for key in ("code", "command"):
        if isinstance(arguments.get(key), str):
            return str(arguments[key])[:PREVIEW_CHARS]
    return f"{tool_name} {json.dumps(arguments, indent=2, ensure_ascii=False)}"[:PREVIEW_CHARS]


def wire(approval: Approval) -> dict[str, Any]:
    """The approval as events carry it (the same fields as the REST view)."""
    return approval_out(approval).model_dump(mode="json", by_alias=True)


def _event(approval: Approval, name: EventName) -> Event:
    return Event(
        name.value,
        wire(approval),
        tenant_id=approval.tenant_id,
        audience=Audience(
            user_ids=frozenset({approval.user_id}) if approval.user_id else frozenset()
        ),
    )


@exempt("a turn asks a person inside the runtime; the decision on it is audited")
def create(
    db: AsyncSession,
    *,
    kind: str,
    tool_name: str,
    risk_level: str,
    arguments: dict[str, Any],
    timeout_seconds: float,
    user_id: str | None,
    preview: str | None = None,
    editable: bool = False,
    task_id: str | None = None,
    session_id: str | None = None,
    agent_id: str | None = None,
    tool_call_id: str | None = None,
) -> Approval:
    now = utcnow()
    approval = Approval(
        id=new_id("apr"),
        tenant_id=session_tenant(db.sync_session),  # now, not at flush: the event needs it
        kind=kind,
        status=ApprovalStatus.PENDING.value,
        tool_name=tool_name,
        risk_level=risk_level,
        arguments=arguments,
        editable=editable,
        preview=preview if preview is not None else preview_of(tool_name, arguments),
        user_id=user_id,
        task_id=task_id,
        session_id=session_id,
        agent_id=agent_id,
        tool_call_id=tool_call_id,
        created_at=now,
        expires_at=now + timedelta(seconds=timeout_seconds),
    )
    db.add(approval)
    after_commit(db, _event(approval, EventName.APPROVAL_REQUESTED))
    return approval


@audited("approval.requested")
async def request_action(
    db: AsyncSession,
    principal: Principal,
    *,
    action: str,
    tool_name: str,
    risk_level: str,
    arguments: dict[str, Any],
    preview: str,
    timeout_seconds: float = 86_400.0,
) -> Approval:
    """A pending approval for a gated action (its handler runs when it is approved)."""
    if actions.handler_for(action) is None:
        raise ValueError(f"no handler registered for the action {action!r}")
    approval = create(
        db,
        kind=KIND_ACTION,
        tool_name=tool_name,
        risk_level=risk_level,
        arguments={**arguments, "action": action},
        timeout_seconds=timeout_seconds,
        user_id=principal.user_id,
        preview=preview,
    )
    await audit.record(
        db, principal, "approval.requested", ("approval", approval.id), details=_summary(approval)
    )
    return approval


def visible(principal: Principal) -> Select[Approval]:
    """The caller's own approvals, or all of the tenant's with `ApproveActions`."""
    stmt = select(Approval)
    if not principal.can(Permission.APPROVE_ACTIONS):
        stmt = stmt.where(Approval.user_id == principal.user_id)
    return stmt


def pending(principal: Principal) -> Select[Approval]:
    return visible(principal).where(Approval.status == ApprovalStatus.PENDING.value)


def decided(principal: Principal) -> Select[Approval]:
    return visible(principal).where(Approval.status != ApprovalStatus.PENDING.value)


async def get(db: AsyncSession, principal: Principal, approval_id: str) -> Approval:
    approval = await db.scalar(visible(principal).where(Approval.id == approval_id))
    if approval is None:
        raise NotFound("No such approval.", {"approvalId": approval_id})
    return approval


async def _pending_for_decision(
    db: AsyncSession, principal: Principal, approval_id: str
) -> Approval:
    approval = await get(db, principal, approval_id)
    if not principal.can(Permission.APPROVE_ACTIONS):  # in every tier, the requester too
        raise NotAuthorized(
            "Deciding approvals needs the ApproveActions permission.",
            {"permission": Permission.APPROVE_ACTIONS.value},
        )
    await db.refresh(approval, with_for_update=True)
    if approval.status == ApprovalStatus.PENDING.value and approval.expires_at <= utcnow():
        _expire(db, approval)
        await audit.record(
            db, principal, "approval.expired", ("approval", approval.id), details=_summary(approval)
        )
        raise Conflict(
            "The approval expired before it was decided.", {"status": "Expired"}, keep_writes=True
        )
    if (
        approval.status == ApprovalStatus.PENDING.value
        and approval.task_id is not None
        and await tasks.has_ended(db, approval.task_id)
    ):  # nothing waits for this decision any more: it would be approved to no effect
        await _withdraw(db, approval, TASK_ENDED)
        raise Conflict(
            "The task that asked for this approval has ended; nothing would act on a decision.",
            {"status": approval.status, "taskId": approval.task_id},
            keep_writes=True,
        )
    if approval.status != ApprovalStatus.PENDING.value:
        raise Conflict(f"The approval is already {approval.status}.", {"status": approval.status})
    return approval


def _summary(approval: Approval) -> dict[str, Any]:
    return {
        "kind": approval.kind,
        "tool": approval.tool_name,
        "risk": approval.risk_level,
        "taskId": approval.task_id,
    }


async def _decide(
    db: AsyncSession,
    principal: Principal,
    approval: Approval,
    status: ApprovalStatus,
    action: str,
    details: dict[str, Any] | None = None,
) -> Approval:
    approval.status = status.value
    approval.decided_by = principal.user_id
    approval.decided_at = utcnow()
    if status is ApprovalStatus.APPROVED and approval.kind == KIND_ACTION:
        handler = actions.handler_for(str(approval.arguments.get("action")))
        if handler is not None:
            await handler(db, approval)
    await audit.record(
        db,
        principal,
        action,
        ("approval", approval.id),
        details={**_summary(approval), **(details or {})},
    )
    after_commit(db, _event(approval, EventName.APPROVAL_RESOLVED))
    return approval


@audited("approval.approved", "approval.expired")
async def approve(db: AsyncSession, principal: Principal, approval_id: str) -> Approval:
    approval = await _pending_for_decision(db, principal, approval_id)
    approval.approved_arguments = dict(approval.arguments)
    return await _decide(db, principal, approval, ApprovalStatus.APPROVED, "approval.approved")


@audited("approval.edited", "approval.expired")
async def edit(
    tools: ToolRegistry,
    db: AsyncSession,
    principal: Principal,
    approval_id: str,
    arguments: dict[str, Any],
) -> Approval:
    """Approves with changed arguments, validated against the tool's schema (editable tools)."""
    approval = await _pending_for_decision(db, principal, approval_id)
    tool = tools.get(approval.tool_name)
    if approval.kind != KIND_TOOL or tool is None or not tool.editable_at_approval:
        raise Conflict(
            f"The arguments of {approval.tool_name} cannot be edited; approve or reject it.",
            {"tool": approval.tool_name},
        )
    try:
        checked = validate_arguments(tool, arguments)
    except InvalidToolArguments as exc:
        raise ValidationFailed(exc.message, exc.details) from None
    approval.approved_arguments = checked
    return await _decide(
        db, principal, approval, ApprovalStatus.APPROVED, "approval.edited", {"edited": True}
    )


@audited("approval.rejected", "approval.expired")
async def reject(
    db: AsyncSession,
    principal: Principal,
    approval_id: str,
    reason: str | None = None,
) -> Approval:
    approval = await _pending_for_decision(db, principal, approval_id)
    approval.reason = reason
    return await _decide(db, principal, approval, ApprovalStatus.REJECTED, "approval.rejected")


def _expire(db: AsyncSession, approval: Approval) -> None:
    approval.status = ApprovalStatus.EXPIRED.value
    approval.decided_at = utcnow()
    approval.reason = "The approval timed out."
    after_commit(db, _event(approval, EventName.APPROVAL_RESOLVED))


@audited("approval.expired")
async def expire_if_due(db: AsyncSession, approval_id: str) -> Approval | None:
    """Expires a pending approval whose time is up (timeout counts as reject); the approval as
    it is now, or None when it no longer exists."""
    approval = await db.scalar(select(Approval).where(Approval.id == approval_id).with_for_update())
    if approval is None:
        return None
    if approval.status == ApprovalStatus.PENDING.value and approval.expires_at <= utcnow():
        _expire(db, approval)
        await audit.record(
            db,
            audit.anonymous_actor(),
            "approval.expired",
            ("approval", approval.id),
            details=_summary(approval),
        )
    return approval


async def _withdraw(db: AsyncSession, approval: Approval, reason: str) -> None:
    _expire(db, approval)
    approval.reason = reason
    await audit.record(
        db,
        audit.anonymous_actor(),
        "approval.withdrawn",
        ("approval", approval.id),
        details={**_summary(approval), "reason": reason},
    )


@audited("approval.withdrawn")
async def withdraw_for_task(db: AsyncSession, task_id: str, reason: str) -> None:
    """The task ended: its approvals still pending close (Expired, with `reason`), so none can
    be approved to no effect."""
    stmt = select(Approval).where(
        Approval.task_id == task_id, Approval.status == ApprovalStatus.PENDING.value
    )
    for approval in (await db.scalars(stmt.with_for_update())).all():
        await _withdraw(db, approval, reason)


async def latest_for_task(db: AsyncSession, task_id: str, kind: str) -> Approval | None:
    """The task's most recent approval of this kind (a resumed turn picks it up again)."""
    stmt = select(Approval).where(Approval.task_id == task_id, Approval.kind == kind)
    return await db.scalar(stmt.order_by(Approval.id.desc()).limit(1))


@audited("approval.withdrawn")
async def withdraw(db: AsyncSession, approval_id: str, reason: str) -> None:
    """The requester no longer waits (task cancelled): a pending approval expires at once."""
    approval = await db.scalar(select(Approval).where(Approval.id == approval_id).with_for_update())
    if approval is not None and approval.status == ApprovalStatus.PENDING.value:
        await _withdraw(db, approval, reason)
