from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, id_column
from sophon.platform.tenancy import TenantScoped


class AuditEntry(Base, TenantScoped):
    """Append-only and hash-chained per tenant: `hash` (an HMAC, see `audit.chain`) covers the
    entry and `prev_hash`."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_audit_entries_tenant_action", "tenant_id", "action"),
        Index("ix_audit_entries_tenant_resource", "tenant_id", "resource_type", "resource_id"),
    )

    # no foreign key: entries outlive a deleted tenant (nothing deletes audit entries)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    id: Mapped[str] = id_column()
    seq: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[datetime]
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_user_id: Mapped[str | None] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(100))
    resource_type: Mapped[str | None] = mapped_column(String(50))
    resource_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(130))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))  # NULL: from before the audit key


class AuditChainHead(Base, TenantScoped):
    """The last link of a tenant's chain; locked while an entry is appended."""

    __tablename__ = "audit_chain_heads"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)  # outlives its tenant
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
