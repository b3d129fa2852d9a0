"""Deliveries written in the same transaction as the event's cause: the commit hook the
composition root installs on the event outbox (`platform.events.install_commit_hook`) turns each
catalog event into one delivery row and one queued job per subscribed endpoint."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from sophon.platform import queue
from sophon.platform.clock import iso, utcnow
from sophon.platform.events import Event
from sophon.platform.ids import new_id
from sophon.platform.memo import Memo
from sophon.platform.tenancy import ALL_TENANTS, session_tenant
from sophon.webhooks import catalog
from sophon.webhooks.models import Delivery, DeliveryStatus, Kind, Status, Webhook

log = logging.getLogger("sophon.webhooks")

DELIVER_JOB = "webhook.deliver"
JOB_ATTEMPTS = 5
"""Attempts of one delivery job: more than one only when a worker died holding it."""


def envelope(event_type: str, tenant_id: str, data: Mapping[str, Any], at: datetime) -> str:
    """The JSON body sent on every attempt: `{type, timestamp, tenant, data}`."""
    body = {"type": event_type, "timestamp": iso(at), "tenant": tenant_id, "data": dict(data)}
    return json.dumps(body, separators=(",", ":"), default=str)


class Endpoint(Protocol):
    """What a delivery needs of its webhook (a `Webhook` row, or a `Subscriber`)."""

    @property
    def id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...


@dataclass(frozen=True)
class Subscriber:
    """An enabled outbound endpoint as the commit hook keeps it between commits."""

    id: str
    tenant_id: str
    event_types: tuple[str, ...]


_SUBSCRIBERS: Memo[tuple[Subscriber, ...]] = Memo({"webhooks"})
"""Per tenant, until a write to webhooks: every commit that raised events asks."""


def _subscribers(session: Session, tenant_id: str) -> tuple[Subscriber, ...]:
    def load() -> tuple[Subscriber, ...]:
        rows = session.execute(
            select(Webhook.id, Webhook.tenant_id, Webhook.event_types)
            .where(
                Webhook.tenant_id == tenant_id,
                Webhook.kind == Kind.OUTBOUND.value,
                Webhook.enabled.is_(True),
                Webhook.status != Status.DISABLED.value,
            )
            .execution_options(**ALL_TENANTS)
        )
        return tuple(Subscriber(id_, tenant, tuple(types)) for id_, tenant, types in rows.all())

    return _SUBSCRIBERS.get_sync(session, tenant_id, load)


def new_delivery(
    session: AsyncSession | Session,
    webhook: Endpoint,
    event_type: str,
    body: str,
    event_id: str | None,
    now: datetime,
) -> Delivery:
    """A delivery added to `session`, with the job that sends it."""
    delivery = Delivery(
        id=new_id("dlv"),
        tenant_id=webhook.tenant_id,
        webhook_id=webhook.id,
        event_type=event_type,
        event_id=event_id,
        body=body,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(delivery)
    queue_delivery(session, delivery, now)
    return delivery


def queue_delivery(
    session: AsyncSession | Session, delivery: Delivery, run_after: datetime
) -> None:
    """Queues the job that sends `delivery` at `run_after` (a due one wakes this process's
    delivery worker at commit)."""
    queue.enqueue(
        session,
        DELIVER_JOB,
        {"deliveryId": delivery.id},
        run_after=run_after,
        max_attempts=JOB_ATTEMPTS,
        tenant_id=delivery.tenant_id,
    )


def stage_deliveries(session: Session, events: Sequence[Event]) -> None:
    """The commit hook: one delivery per (catalog event, subscribed enabled endpoint)."""
    wanted = [(e, catalog.BY_BUS_NAME[e.name]) for e in events if e.name in catalog.BY_BUS_NAME]
    wanted = [(e, t) for e, t in wanted if e.tenant_id is not None]
    if not wanted:
        return
    own_tenant = session_tenant(session)
    endpoints = [
        endpoint
        for tenant in sorted({str(e.tenant_id) for e, _ in wanted})
        for endpoint in _subscribers(session, tenant)
    ]
    if not endpoints:
        return
    now = utcnow()
    for event, event_type in wanted:
        if own_tenant is not None and event.tenant_id != own_tenant:
            log.error("event %s of another tenant than its session: no delivery", event.id)
            continue
        data = event_type.shape(event.payload)
        body = envelope(event_type.name, str(event.tenant_id), data, event.at)
        for webhook in endpoints:
            if webhook.tenant_id == event.tenant_id and catalog.subscribed(
                webhook.event_types, event_type.name
            ):
                new_delivery(session, webhook, event_type.name, body, event.id, now)
