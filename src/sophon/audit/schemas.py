from __future__ import annotations

from typing import Any

from sophon.platform.schemas import ApiModel, Timestamp


class AuditActor(ApiModel):
    user_id: str | None
    email: str | None
    role: str | None
    tenant_id: str | None


class AuditResource(ApiModel):
    type: str | None
    id: str | None


class AuditEntryOut(ApiModel):
    id: str
    seq: int
    timestamp: Timestamp
    actor: AuditActor
    action: str
    resource: AuditResource
    outcome: str
    ip: str | None
    request_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class BrokenLink(ApiModel):
    id: str | None
    seq: int
    reason: str


class ChainReportOut(ApiModel):
    ok: bool
    checked: int
    broken_at: BrokenLink | None
