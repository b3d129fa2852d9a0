"""`/hubs/approvals`: requests and decisions for the requester and for holders of
`ApproveActions` in the tenant; decide with `Approve`, `Reject` and `Edit` (the REST rules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sophon.approvals import service as approvals
from sophon.platform.events import Event, EventName
from sophon.platform.permissions import Permission
from sophon.platform.throttle import RateCategory
from sophon.realtime.connection import Connection
from sophon.realtime.hub import Hub, hub_method
from sophon.realtime.hubs.args import json_object, optional_text, text_id


class ApprovalsHub(Hub):
    name = "approvals"
    forwards = frozenset({EventName.APPROVAL_REQUESTED.value, EventName.APPROVAL_RESOLVED.value})
    privileged = Permission.APPROVE_ACTIONS.value
    requires = (Permission.USE_CHAT, Permission.APPROVE_ACTIONS)

    def recipients(self, event: Event) -> Iterable[Connection]:
        return self.owner_or_privileged(event)

    @hub_method("Approve", requires=(Permission.APPROVE_ACTIONS,))
    async def approve(self, conn: Connection, approval_id: Any) -> dict[str, Any]:
        wanted = text_id(approval_id, "id")
        await self.limit(conn, RateCategory.APPROVAL)
        async with self.transaction(conn) as db:
            approval = await approvals.approve(db, conn.principal, wanted)
            return approvals.wire(approval)

    @hub_method("Reject", requires=(Permission.APPROVE_ACTIONS,))
    async def reject(
        self, conn: Connection, approval_id: Any, reason: Any = None
    ) -> dict[str, Any]:
        wanted = text_id(approval_id, "id")
        why = optional_text(reason, "reason")
        await self.limit(conn, RateCategory.APPROVAL)
        async with self.transaction(conn) as db:
            approval = await approvals.reject(db, conn.principal, wanted, why)
            return approvals.wire(approval)

    @hub_method("Edit", requires=(Permission.APPROVE_ACTIONS,))
    async def edit(self, conn: Connection, approval_id: Any, arguments: Any) -> dict[str, Any]:
        wanted = text_id(approval_id, "id")
        changed = json_object(arguments, "arguments")
        await self.limit(conn, RateCategory.APPROVAL)
        async with self.transaction(conn) as db:
            approval = await approvals.edit(
                self.gateway.tools.for_tenant(conn.principal.tenant_id),
                db,
                conn.principal,
                wanted,
                changed,
            )
            return approvals.wire(approval)
