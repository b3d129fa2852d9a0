"""Rows to wire models."""

from __future__ import annotations

import json

from sophon.webhooks.models import Attempt, Delivery, Kind, Receipt, Webhook
from sophon.webhooks.schemas import AttemptOut, DeliveryOut, WebhookOut

RECEIVE_PATH = "/api/webhooks/receive/{slug}"
MASK = "••••••"


def webhook_out(webhook: Webhook, secret: str | None = None) -> WebhookOut:
    inbound = webhook.kind == Kind.INBOUND.value
    return WebhookOut(
        id=webhook.id,
        kind=webhook.kind,
        name=webhook.name,
        description=webhook.description,
        url=webhook.url,
        event_types=list(webhook.event_types or []),
        enabled=webhook.enabled,
        status=webhook.status,
        headers=dict.fromkeys(webhook.header_names or [], MASK),
        slug=webhook.slug,
        receive_url=RECEIVE_PATH.format(slug=webhook.slug) if inbound and webhook.slug else None,
        scheme=webhook.scheme,
        filters=list(webhook.filters or []),
        action=webhook.action,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
        last_delivery_at=webhook.last_delivery_at,
        failure_count=webhook.failure_count,
        secret=secret,
    )


def attempt_out(attempt: Attempt) -> AttemptOut:
    return AttemptOut.model_validate(attempt)


def delivery_out(row: Delivery | Receipt, attempts: list[Attempt] | None = None) -> DeliveryOut:
    if isinstance(row, Receipt):
        return receipt_out(row)
    return DeliveryOut(
        id=row.id,
        webhook_id=row.webhook_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        payload=json.loads(row.body),
        attempt_log=None if attempts is None else [attempt_out(a) for a in attempts],
    )


def receipt_out(receipt: Receipt) -> DeliveryOut:
    if not receipt.verified:
        status = "Rejected"
    elif not receipt.matched:
        status = "Ignored"
    else:
        status = "Accepted" if receipt.error is None else "Failed"
    return DeliveryOut(
        id=receipt.id,
        webhook_id=receipt.webhook_id,
        event_type=None,
        status=status,
        attempts=1,
        created_at=receipt.received_at,
        last_status_code=receipt.status_code,
        last_error=receipt.error,
        verified=receipt.verified,
        matched=receipt.matched,
        task_id=receipt.task_id,
    )
