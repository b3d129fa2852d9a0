"""`/api/admin/audit`: read, export and verify the tenant's audit trail. Nothing edits it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from sophon.audit import service
from sophon.audit.models import AuditEntry
from sophon.audit.schemas import AuditEntryOut, ChainReportOut
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router
from sophon.platform.pagination import Page
from sophon.platform.permissions import Permission as P
from sophon.platform.throttle import RateCategory

router = api_router("/admin/audit", tags=["Admin: audit"])


async def audit_filter(  # async: FastAPI runs a plain def in a worker thread
    actor: Annotated[str | None, Query(description="User id or email.")] = None,
    action: Annotated[str | None, Query(description="Action or prefix, e.g. `auth.`.")] = None,
    resource_type: Annotated[str | None, Query(alias="resourceType")] = None,
    resource_id: Annotated[str | None, Query(alias="resourceId")] = None,
    outcome: Annotated[str | None, Query()] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> service.AuditFilter:
    return service.AuditFilter(
        actor, action, resource_type, resource_id, outcome, _as_utc(since), _as_utc(until)
    )


def _as_utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC (the API's only zone)."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


FilterDep = Annotated[service.AuditFilter, Depends(audit_filter)]


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut.model_validate(
        {
            "id": entry.id,
            "seq": entry.seq,
            "timestamp": entry.timestamp,
            "actor": entry.actor,
            "action": entry.action,
            "resource": {"type": entry.resource_type, "id": entry.resource_id},
            "outcome": entry.outcome,
            "ip": entry.ip,
            "request_id": entry.request_id,
            "details": entry.details,
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
        }
    )


@router.get("", operation_id="listAudit")
@requires(P.VIEW_AUDIT)
async def list_entries(
    query: FilterDep, db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[AuditEntryOut]:
    """Audit entries of the current tenant, newest first."""
    rows, cursor, more = await gateway.paginator.page(
        db, service.filtered(query), [AuditEntry.seq], page, scope=f"audit:{principal.tenant_id}"
    )
    return Page[AuditEntryOut](
        items=[entry_out(r) for r in rows], next_cursor=cursor, has_more=more
    )


@router.get(
    "/export",
    operation_id="exportAudit",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
@requires(P.VIEW_AUDIT, rate=RateCategory.EXPENSIVE)
async def export(
    query: FilterDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    format: Annotated[Literal["ndjson", "csv"], Query()] = "ndjson",
) -> StreamingResponse:
    """Streams every matching entry, oldest first, as NDJSON or CSV."""
    entries = service.stream_entries(gateway.db, principal.tenant_id, query)
    if format == "csv":
        return StreamingResponse(_csv(entries), media_type="text/csv")
    return StreamingResponse(_ndjson(entries), media_type="application/x-ndjson")


async def _ndjson(entries: AsyncIterator[AuditEntry]) -> AsyncIterator[str]:
    async for entry in entries:
        yield json.dumps(entry_out(entry).model_dump(mode="json")) + "\n"


CSV_COLUMNS = [
    "id", "seq", "timestamp", "actorUserId", "actorEmail", "actorRole", "action",
    "resourceType", "resourceId", "outcome", "ip", "requestId", "details", "hash",
]  # fmt: skip


async def _csv(entries: AsyncIterator[AuditEntry]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    async for entry in entries:
        row = entry_out(entry).model_dump(mode="json")
        actor, resource = row["actor"], row["resource"]
        writer.writerow(
            (
                *(row["id"], row["seq"], row["timestamp"], actor["userId"], actor["email"]),
                *(actor["role"], row["action"], resource["type"], resource["id"], row["outcome"]),
                *(row["ip"], row["requestId"], json.dumps(row["details"]), row["hash"]),
            )
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@router.get("/verify", operation_id="verifyAudit")
@requires(P.VIEW_AUDIT, rate=RateCategory.EXPENSIVE)
async def verify(gateway: GatewayDep, principal: PrincipalDep) -> ChainReportOut:
    """Recomputes the tenant's hash chain and reports the first broken link."""
    report = await service.verify_chain(gateway.db, principal.tenant_id)
    return ChainReportOut.model_validate(report, from_attributes=True)
