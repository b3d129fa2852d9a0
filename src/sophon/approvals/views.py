"""Approval rows as wire models."""

from __future__ import annotations

from sophon.approvals.models import Approval
from sophon.approvals.schemas import ApprovalOut


def approval_out(approval: Approval) -> ApprovalOut:
    return ApprovalOut(
        id=approval.id,
        kind=approval.kind,
        status=approval.status,
        tool_name=approval.tool_name,
        risk_level=approval.risk_level,
        arguments=approval.arguments,
        approved_arguments=approval.approved_arguments,
        editable=approval.editable,
        preview=approval.preview,
        requester_id=approval.user_id,
        agent_id=approval.agent_id,
        session_id=approval.session_id,
        task_id=approval.task_id,
        reason=approval.reason,
        decided_by=approval.decided_by,
        decided_at=approval.decided_at,
        expires_at=approval.expires_at,
        created_at=approval.created_at,
    )
