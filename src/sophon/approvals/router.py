"""`/api/approvals`: risky actions waiting for a decision, and the decisions made."""

from __future__ import annotations

from sophon.approvals import service as approvals
from sophon.approvals.schemas import ApprovalOut, EditIn, RejectIn
from sophon.approvals.views import approval_out
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires, requires_any
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses

router = api_router("/approvals", tags=["Approvals"])
decide = requires(P.APPROVE_ACTIONS, rate="approval")
# one's own approvals with UseChat, every one of the tenant with ApproveActions
view_approvals = requires_any(P.USE_CHAT, P.APPROVE_ACTIONS)
DECISION = error_responses(403, 404, 409)


@router.get("", operation_id="listPendingApprovals")
@view_approvals
async def list_pending(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[ApprovalOut]:
    """Pending approvals: the caller's own, or the tenant's with `ApproveActions`."""
    scope = f"approvals:{principal.user_id}"
    stmt = approvals.pending(principal)
    return await page_of(gateway.paginator, db, stmt, page, scope, approval_out)


@router.get("/history", operation_id="listApprovalHistory")
@view_approvals
async def list_history(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[ApprovalOut]:
    """Decided and expired approvals, newest first."""
    scope = f"approvals-history:{principal.user_id}"
    stmt = approvals.decided(principal)
    return await page_of(gateway.paginator, db, stmt, page, scope, approval_out)


@router.get("/{approval_id}", operation_id="getApproval", responses=error_responses(404))
@view_approvals
async def get_approval(approval_id: str, db: DbDep, principal: PrincipalDep) -> ApprovalOut:
    """Tool, risk, arguments, preview, requester, session and when it expires."""
    return approval_out(await approvals.get(db, principal, approval_id))


@router.post("/{approval_id}/approve", operation_id="approveAction", responses=DECISION)
@decide
async def approve(approval_id: str, db: DbDep, principal: PrincipalDep) -> ApprovalOut:
    """Approves with the original arguments. Needs `ApproveActions` (the requester too, in every
    tier). Deciding twice → 409."""
    return approval_out(await approvals.approve(db, principal, approval_id))


@router.post(
    "/{approval_id}/edit",
    operation_id="editAndApproveAction",
    responses=error_responses(403, 404, 409),
)
@decide
async def edit(
    approval_id: str, body: EditIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> ApprovalOut:
    """Approves with changed arguments, validated against the tool's schema (422); only for
    tools whose arguments may be edited (else 409)."""
    return approval_out(
        await approvals.edit(
            gateway.tools.for_tenant(principal.tenant_id),
            db,
            principal,
            approval_id,
            body.arguments,
        )
    )


@router.post("/{approval_id}/reject", operation_id="rejectAction", responses=DECISION)
@decide
async def reject(
    approval_id: str,
    db: DbDep,
    principal: PrincipalDep,
    body: RejectIn | None = None,
) -> ApprovalOut:
    """Rejects; the agent sees an error result with the reason."""
    reason = body.reason if body is not None else None
    return approval_out(await approvals.reject(db, principal, approval_id, reason))
