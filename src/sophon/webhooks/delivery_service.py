"""The database side of sending a delivery: what one attempt sends, and what its outcome
changes (the attempt row, the delivery, the endpoint's health, the next retry, the audit row)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.connections import secrets as connection_secrets
from sophon.platform.clock import iso, utcnow
from sophon.platform.events import Audience, Event, EventName, after_commit
from sophon.platform.ids import new_id
from sophon.platform.vault import Vault
from sophon.webhooks.models import Attempt, Delivery, DeliveryStatus, Status, Webhook
from sophon.webhooks.outbox import queue_delivery
from sophon.webhooks.service import headers_aad, secret_aad

BODY_EXCERPT = 4096
TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class Outgoing:
    """What one attempt sends."""

    delivery_id: str
    url: str
    body: bytes
    secrets: list[str]
    headers: dict[str, str]
    problem: str | None = None
    """Why it can't be sent (a header's `{{vault:<name>}}` names no connection)."""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    response_headers: dict[str, str]
    response_body: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Policy:
    retry_schedule: list[float]
    disable_after: timedelta


def _system_actor(tenant_id: str) -> audit.Actor:
    return {"userId": None, "email": None, "role": "system", "tenantId": tenant_id}


CLOSE = "close"
"""`prepare`'s answer for a pending delivery whose endpoint is disabled: `close` it."""


async def prepare(db: AsyncSession, vault: Vault, delivery_id: str) -> Outgoing | str | None:
    """What to send for a pending delivery (read only); None when there is nothing to send,
    CLOSE when its endpoint was disabled meanwhile."""
    delivery = await db.get(Delivery, delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.PENDING.value:
        return None
    webhook = await db.get(Webhook, delivery.webhook_id)
    if webhook is None or webhook.url is None:
        return None
    usable = webhook.enabled and webhook.status != Status.DISABLED.value
    if not usable and delivery.event_type != TEST_EVENT:
        return CLOSE
    keys = [vault.decrypt(str(webhook.secret_blob), secret_aad(webhook.id))]
    expires = webhook.previous_expires_at
    if webhook.previous_secret_blob and expires is not None and expires > utcnow():
        keys.append(vault.decrypt(webhook.previous_secret_blob, secret_aad(webhook.id)))
    extra: dict[str, str] = {}
    if webhook.headers_blob:
        extra = json.loads(vault.decrypt(webhook.headers_blob, headers_aad(webhook.id)))
    problem = None
    if connection_secrets.references(extra.values()):  # `{{vault:<name>}}` in a header value
        try:
            extra = (await connection_secrets.book(db, vault)).resolve_all(extra)
        except connection_secrets.MissingSecret as missing:
            extra, problem = {}, f"{missing}; create it under Connections"
    return Outgoing(delivery.id, webhook.url, delivery.body.encode(), keys, extra, problem)


@exempt("a delivery to a disabled endpoint is closed; disabling the endpoint was audited")
async def close(db: AsyncSession, delivery_id: str) -> None:
    delivery = await db.get(Delivery, delivery_id, with_for_update=True)
    if delivery is not None and delivery.status == DeliveryStatus.PENDING.value:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.last_error = "the endpoint is disabled"
        delivery.next_attempt_at = None


def _notify_owner(db: AsyncSession, webhook: Webhook, why: str) -> None:
    if webhook.owner_id is None:
        return
    after_commit(
        db,
        Event(
            EventName.NOTIFICATION.value,
            {
                "id": new_id("ntf"),
                "kind": "webhook.disabled",
                "title": f"Webhook {webhook.name} was disabled",
                "body": why,
                "webhookId": webhook.id,
                "at": iso(utcnow()),
            },
            tenant_id=webhook.tenant_id,
            audience=Audience(user_ids=frozenset({webhook.owner_id})),
        ),
    )


def _disable(db: AsyncSession, webhook: Webhook, why: str) -> None:
    webhook.enabled = False
    webhook.status = Status.DISABLED.value
    _notify_owner(db, webhook, why)


def _next_delay(policy: Policy, attempts: int) -> float | None:
    if attempts > len(policy.retry_schedule):
        return None
    base = policy.retry_schedule[attempts - 1]
    return base * (1 + random.uniform(0, 0.1))  # noqa: S311 - jitter, not a secret


def _health(
    db: AsyncSession,
    webhook: Webhook,
    delivery: Delivery,
    outcome: Outcome,
    now: datetime,
    policy: Policy,
) -> bool:
    """Updates the endpoint's health; True when the delivery may be retried."""
    if delivery.event_type == TEST_EVENT:
        return True
    if outcome.succeeded:
        webhook.failure_count = 0
        webhook.failing_since = None
        if webhook.enabled:
            webhook.status = Status.ACTIVE.value
        return False
    webhook.failure_count += 1
    if outcome.status_code == 410:
        _disable(db, webhook, "The endpoint answered 410 Gone.")
        return False
    webhook.failing_since = webhook.failing_since or now
    if webhook.status != Status.DISABLED.value:
        webhook.status = Status.FAILING.value
    if now - webhook.failing_since >= policy.disable_after:
        _disable(db, webhook, f"Deliveries failed since {iso(webhook.failing_since)}.")
        return False
    return True


@audited("webhook.delivery_attempt")
async def record_attempt(
    db: AsyncSession, delivery_id: str, outcome: Outcome, policy: Policy, at: datetime
) -> Delivery | None:
    """Records one attempt's outcome and schedules the next retry, if any."""
    delivery = await db.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        return None  # the endpoint was deleted meanwhile
    webhook = await db.scalar(
        select(Webhook).where(Webhook.id == delivery.webhook_id).with_for_update()
    )
    if webhook is None:
        return None
    now = utcnow()
    db.add(
        Attempt(
            id=new_id("att"),
            delivery_id=delivery.id,
            attempted_at=at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            response_headers=outcome.response_headers,
            response_body=outcome.response_body,
            error=outcome.error,
            succeeded=outcome.succeeded,
        )
    )
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.updated_at = now
    webhook.last_delivery_at = at
    retryable = _health(db, webhook, delivery, outcome, now, policy)
    delay = _next_delay(policy, delivery.attempts) if retryable else None
    if outcome.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED.value
        delivery.delivered_at = at
        delivery.next_attempt_at = None
    elif delay is None:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        queue_delivery(db, delivery, delivery.next_attempt_at)
    await audit.record(
        db,
        _system_actor(delivery.tenant_id),
        "webhook.delivery_attempt",
        ("webhook", webhook.id),
        outcome="success" if outcome.succeeded else "failure",
        details={"deliveryId": delivery.id, "statusCode": outcome.status_code},
    )
    return delivery
