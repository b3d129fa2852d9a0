"""Webhooks: outbound endpoints with their deliveries and attempts, inbound receivers with their
receipts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sophon.platform.db import Base, Timestamped, id_column
from sophon.platform.tenancy import TenantScoped


class Kind(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Status(StrEnum):
    ACTIVE = "Active"
    DISABLED = "Disabled"
    FAILING = "Failing"


class DeliveryStatus(StrEnum):
    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Webhook(Base, TenantScoped, Timestamped):
    """One endpoint. Outbound: `url`, `event_types`, extra `headers` (encrypted, names kept in
    `header_names`). Inbound: `slug` (unique per Gateway), `scheme`, `filters`, `action`.
    Secrets are vault blobs; `previous_secret` signs too until `previous_expires_at`."""

    __tablename__ = "webhooks"
    __table_args__ = (
        Index("ix_webhooks_kind", "tenant_id", "kind", "id"),
        Index("ix_webhooks_slug", "slug", unique=True),
    )

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default=Status.ACTIVE.value)
    header_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    headers_blob: Mapped[str | None] = mapped_column(Text)
    secret_blob: Mapped[str | None] = mapped_column(Text)
    previous_secret_blob: Mapped[str | None] = mapped_column(Text)
    previous_expires_at: Mapped[datetime | None]
    slug: Mapped[str | None] = mapped_column(String(100))
    scheme: Mapped[str | None] = mapped_column(String(20))
    filters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    owner_id: Mapped[str | None] = mapped_column(String(40))
    last_delivery_at: Mapped[datetime | None]
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None]


class Delivery(Base, TenantScoped, Timestamped):
    """One event for one outbound endpoint; `body` is the exact JSON sent on every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
        Index("ix_webhook_deliveries_status", "webhook_id", "status", "id"),
    )

    id: Mapped[str] = id_column()
    webhook_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class Attempt(Base, TenantScoped):
    """One HTTP exchange of a delivery (response headers and the first 4 KB of its body)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[str] = id_column()
    delivery_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class Receipt(Base, TenantScoped):
    """One request an inbound webhook received, verified or not, matched or not."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (
        Index("ix_webhook_receipts_webhook", "webhook_id", "id"),
        Index("ix_webhook_receipts_dedupe", "webhook_id", "dedupe_key", unique=True),
    )

    id: Mapped[str] = id_column()
    webhook_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    received_at: Mapped[datetime]
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int] = mapped_column(Integer)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    body_bytes: Mapped[int] = mapped_column(Integer, default=0)
