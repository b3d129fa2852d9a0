"""Waiting for a decision: woken by `ApprovalResolved` on the bus, and looking at the row at
least every `POLL_SECONDS` (for a replica without a shared bus, and to expire on time)."""

from __future__ import annotations

import asyncio

from sophon.approvals import service
from sophon.approvals.models import Approval, ApprovalStatus
from sophon.platform.aio import first_of
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.events import EventBus, EventName

POLL_SECONDS = 1.0


async def wait_for_decision(
    database: Database, bus: EventBus, tenant_id: str, approval_id: str, stop: asyncio.Event
) -> Approval | None:
    """The decided (or expired) approval; None if `stop` was set first (the approval is then
    withdrawn) or the approval vanished."""
    async with bus.subscribe(
        lambda e: (
            e.name == EventName.APPROVAL_RESOLVED.value and e.payload.get("id") == approval_id
        ),
        max_queue=4,
    ) as resolved:
        while True:
            async with database.transaction(readonly=True, tenant_id=tenant_id) as db:
                approval = await db.get(Approval, approval_id)
            if approval is None or approval.status != ApprovalStatus.PENDING.value:
                return approval
            if approval.expires_at <= utcnow():
                async with database.transaction(tenant_id=tenant_id) as db:
                    approval = await service.expire_if_due(db, approval_id)
                continue
            if stop.is_set():
                async with database.transaction(tenant_id=tenant_id) as db:
                    await service.withdraw(db, approval_id, "The task was cancelled.")
                return None
            await first_of(resolved.next(), stop.wait(), limit=POLL_SECONDS)
