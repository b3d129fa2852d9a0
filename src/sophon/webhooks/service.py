"""Webhooks of a tenant: create, read, change, delete, rotate secrets, send a test, retry a
delivery. HTTP-free; callers own the transaction."""

from __future__ import annotations

import json
import secrets as random
from datetime import timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound, ValidationFailed
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.ids import new_id
from sophon.platform.launcher import WorkflowLauncher
from sophon.platform.netguard import OutboundPolicy, OutboundRefused, normalize_host
from sophon.platform.principal import Principal
from sophon.platform.tenancy import ALL_TENANTS
from sophon.platform.vault import Vault
from sophon.webhooks import catalog, templates
from sophon.webhooks.models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Kind,
    Receipt,
    Status,
    Webhook,
)
from sophon.webhooks.outbox import envelope, new_delivery, queue_delivery
from sophon.webhooks.schemas import ActionIn, FilterIn, WebhookIn, WebhookPatchIn
from sophon.webhooks.signing import new_secret

ROTATION_OVERLAP = timedelta(hours=24)
DELIVERY_QUEUED = "WebhookDeliveryQueued"
"""Internal: wakes the delivery worker (no hub forwards it)."""


def secret_aad(webhook_id: str) -> str:
    return f"webhook:{webhook_id}:secret"


def headers_aad(webhook_id: str) -> str:
    return f"webhook:{webhook_id}:headers"


def of_kind(kind: str | None = None) -> Select[Webhook]:
    stmt = select(Webhook)
    return stmt if kind is None else stmt.where(Webhook.kind == kind)


async def get(db: AsyncSession, webhook_id: str, *, for_update: bool = False) -> Webhook:
    stmt = select(Webhook).where(Webhook.id == webhook_id)
    webhook = await db.scalar(stmt.with_for_update() if for_update else stmt)
    if webhook is None:
        raise NotFound("No such webhook.", {"webhookId": webhook_id})
    return webhook


LOOPBACK = ip_address("127.0.0.1")


def check_url(url: str | None, policy: OutboundPolicy) -> str:
    """An http(s) URL without credentials whose host, when it is an address (or `localhost`),
    may be contacted; names are vetted again at every send (DNS may change)."""
    if not url:
        raise ValidationFailed.on("body.url", "An outbound webhook needs a url.")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed.on("body.url", "The url must be an http or https URL with a host.")
    if parts.username or parts.password:
        raise ValidationFailed.on(
            "body.url", "Credentials in the url are not allowed; use headers."
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = normalize_host(parts.hostname)
        if not isinstance(host, str):
            policy.vet(parts.hostname, None, [host], port)
        elif host == "localhost" or host.endswith(".localhost"):
            policy.vet(parts.hostname, host, [LOOPBACK], port)
    except (ValueError, OutboundRefused) as exc:
        raise ValidationFailed.on("body.url", f"The url is not allowed: {exc}") from None
    return url.strip()


def _check_event_types(patterns: list[str]) -> list[str]:
    if not patterns:
        raise ValidationFailed.on(
            "body.eventTypes", "Name at least one event type (or `family.*`)."
        )
    unknown = catalog.unknown_patterns(patterns)
    if unknown:
        raise ValidationFailed.on(
            "body.eventTypes",
            f"Unknown event types: {', '.join(unknown)}; GET /api/webhooks/event-types lists them.",
        )
    return list(dict.fromkeys(patterns))


def _filters(items: list[FilterIn]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if item.type == "header" and not item.name:
            raise ValidationFailed.on("body.filters", "A header filter needs a name.")
        if item.type == "body" and not item.path:
            raise ValidationFailed.on("body.filters", "A body filter needs a path.")
        out.append(item.model_dump(mode="json", by_alias=True, exclude_none=True))
    return out


async def _action(
    db: AsyncSession, action: ActionIn | None, launcher: WorkflowLauncher | None
) -> dict[str, Any]:
    if action is None:
        raise ValidationFailed.on(
            "body.action", "An inbound webhook needs an action (agent or workflow)."
        )
    if action.type == "workflow":
        if not action.workflow_id:
            raise ValidationFailed.on(
                "body.action.workflowId", "A workflow action needs a workflowId."
            )
        if launcher is None or not await launcher.exists(db, action.workflow_id):
            raise ValidationFailed.on("body.action.workflowId", "workflow not found")
        return {"type": "workflow", "workflowId": action.workflow_id}
    agent = await (
        agents.by_id_or_name(db, action.agent_id) if action.agent_id else agents.default_agent(db)
    )
    if agent is None:
        raise ValidationFailed.on(
            "body.action.agentId", "This tenant has no default agent; name one."
        )
    if action.message_template is not None:
        try:
            templates.check(action.message_template)
        except templates.TemplateInvalid as exc:
            raise ValidationFailed.on(
                "body.action.messageTemplate", f"The template does not parse: {exc}"
            ) from None
    return {"type": "agent", "agentId": agent.id, "messageTemplate": action.message_template}


RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "te",
     "upgrade", "webhook-id", "webhook-timestamp", "webhook-signature", "x-sophon-signature"}
)  # fmt: skip


def _store_headers(vault: Vault, webhook: Webhook, headers: dict[str, str]) -> None:
    reserved = sorted(name for name in headers if name.lower() in RESERVED_HEADERS)
    if reserved:
        raise ValidationFailed.on(
            "body.headers", f"These headers are set by Sophon: {', '.join(reserved)}."
        )
    webhook.header_names = list(headers)
    webhook.headers_blob = (
        vault.encrypt(json.dumps(headers), headers_aad(webhook.id)) if headers else None
    )


async def _unique_slug(db: AsyncSession, slug: str | None) -> str:
    candidate = slug or f"wh-{random.token_hex(6)}"
    taken = await db.scalar(
        select(Webhook.id).where(Webhook.slug == candidate).execution_options(**ALL_TENANTS)
    )
    if taken is not None:
        raise Conflict("This slug is taken.", {"field": "slug", "slug": candidate})
    return candidate


@audited("webhook.create")
async def create(
    db: AsyncSession,
    actor: Principal,
    vault: Vault,
    policy: OutboundPolicy,
    body: WebhookIn,
    launcher: WorkflowLauncher | None = None,
) -> tuple[Webhook, str]:
    """Creates the webhook; returns it with its secret (shown this once)."""
    webhook = Webhook(
        id=new_id("wh"),
        kind=body.kind,
        name=body.name.strip(),
        description=body.description,
        enabled=body.enabled,
        status=Status.ACTIVE.value if body.enabled else Status.DISABLED.value,
        owner_id=actor.user_id,
        failure_count=0,
        event_types=[],
        filters=[],
        header_names=[],
    )
    if body.kind == Kind.OUTBOUND.value:
        webhook.url = check_url(body.url, policy)
        webhook.event_types = _check_event_types(body.event_types)
        _store_headers(vault, webhook, body.headers)
        secret = new_secret()
    else:
        webhook.scheme = body.scheme
        webhook.filters = _filters(body.filters)
        webhook.action = await _action(db, body.action, launcher)
        webhook.slug = await _unique_slug(db, body.slug)
        secret = body.secret or new_secret()
    webhook.secret_blob = vault.encrypt(secret, secret_aad(webhook.id))
    db.add(webhook)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict("This slug is taken.", {"field": "slug", "slug": webhook.slug}) from None
    await audit.record(
        db, actor, "webhook.create", ("webhook", webhook.id), details={"kind": webhook.kind}
    )
    return webhook, secret


@audited("webhook.update")
async def update(
    db: AsyncSession,
    actor: Principal,
    vault: Vault,
    policy: OutboundPolicy,
    webhook_id: str,
    body: WebhookPatchIn,
    launcher: WorkflowLauncher | None = None,
) -> Webhook:
    webhook = await get(db, webhook_id, for_update=True)
    changed = sorted(body.model_dump(exclude_unset=True, by_alias=True))
    outbound = webhook.kind == Kind.OUTBOUND.value
    if body.name is not None:
        webhook.name = body.name.strip()
    if "description" in body.model_fields_set:
        webhook.description = body.description
    if body.url is not None and outbound:
        webhook.url = check_url(body.url, policy)
    if body.event_types is not None and outbound:
        webhook.event_types = _check_event_types(body.event_types)
    if body.headers is not None and outbound:
        _store_headers(vault, webhook, body.headers)
    if body.filters is not None and not outbound:
        webhook.filters = _filters(body.filters)
    if body.action is not None and not outbound:
        webhook.action = await _action(db, body.action, launcher)
    if body.enabled is not None:
        webhook.enabled = body.enabled
        webhook.status = Status.ACTIVE.value if body.enabled else Status.DISABLED.value
        webhook.failing_since = None
        webhook.failure_count = 0
    webhook.updated_at = utcnow()
    await audit.record(
        db, actor, "webhook.update", ("webhook", webhook.id), details={"fields": changed}
    )
    return webhook


@audited("webhook.delete")
async def delete(db: AsyncSession, actor: Principal, webhook_id: str) -> None:
    """Deletes the webhook with its deliveries, attempts and receipts."""
    webhook = await get(db, webhook_id, for_update=True)
    await db.delete(webhook)
    await db.flush()
    await audit.record(db, actor, "webhook.delete", ("webhook", webhook_id))


@audited("webhook.rotate_secret")
async def rotate_secret(
    db: AsyncSession, actor: Principal, vault: Vault, webhook_id: str
) -> tuple[Webhook, str]:
    """A new secret; an outbound endpoint's old one keeps signing for 24 hours beside it."""
    webhook = await get(db, webhook_id, for_update=True)
    secret = new_secret()
    now = utcnow()
    if webhook.kind == Kind.OUTBOUND.value and webhook.secret_blob:
        webhook.previous_secret_blob = webhook.secret_blob
        webhook.previous_expires_at = now + ROTATION_OVERLAP
    webhook.secret_blob = vault.encrypt(secret, secret_aad(webhook.id))
    webhook.updated_at = now
    await audit.record(db, actor, "webhook.rotate_secret", ("webhook", webhook.id))
    return webhook, secret


def _queued(db: AsyncSession, delivery: Delivery) -> None:
    after_commit(
        db,
        Event(DELIVERY_QUEUED, {"deliveryId": delivery.id}, delivery.tenant_id, Audience()),
    )


def _outbound(webhook: Webhook) -> None:
    if webhook.kind != Kind.OUTBOUND.value:
        raise Conflict("Only an outbound webhook sends deliveries.", {"kind": webhook.kind})


@audited("webhook.test")
async def send_test(db: AsyncSession, actor: Principal, webhook_id: str) -> Delivery:
    """Queues a `webhook.test` delivery now (also to a disabled endpoint)."""
    webhook = await get(db, webhook_id)
    _outbound(webhook)
    now = utcnow()
    data = {"webhookId": webhook.id, "message": "A test event from Sophon."}
    body = envelope("webhook.test", webhook.tenant_id, data, now)
    delivery = new_delivery(db, webhook, "webhook.test", body, None, now)
    await db.flush()
    _queued(db, delivery)
    await audit.record(db, actor, "webhook.test", ("webhook", webhook.id))
    return delivery


def deliveries(
    webhook_id: str, status: str | None = None, event_type: str | None = None
) -> Select[Delivery]:
    stmt = select(Delivery).where(Delivery.webhook_id == webhook_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if event_type:
        stmt = stmt.where(Delivery.event_type == event_type)
    return stmt


def receipts(webhook_id: str, matched: bool | None = None) -> Select[Receipt]:
    stmt = select(Receipt).where(Receipt.webhook_id == webhook_id)
    return stmt if matched is None else stmt.where(Receipt.matched.is_(matched))


async def get_delivery(
    db: AsyncSession, webhook_id: str, delivery_id: str
) -> tuple[Delivery | Receipt, list[Attempt]]:
    """A delivery with every attempt, or an inbound webhook's receipt."""
    await get(db, webhook_id)
    found = await db.scalar(deliveries(webhook_id).where(Delivery.id == delivery_id))
    if found is None:
        receipt = await db.scalar(receipts(webhook_id).where(Receipt.id == delivery_id))
        if receipt is None:
            raise NotFound("No such delivery.", {"deliveryId": delivery_id})
        return receipt, []
    stmt = select(Attempt).where(Attempt.delivery_id == found.id).order_by(Attempt.id)
    return found, list((await db.scalars(stmt)).all())


@audited("webhook.retry")
async def retry(db: AsyncSession, actor: Principal, webhook_id: str, delivery_id: str) -> Delivery:
    """Sends the delivery again now (same id and body); 409 while it is still pending."""
    webhook = await get(db, webhook_id)
    _outbound(webhook)
    delivery = await db.scalar(
        deliveries(webhook_id).where(Delivery.id == delivery_id).with_for_update()
    )
    if delivery is None:
        raise NotFound("No such delivery.", {"deliveryId": delivery_id})
    if delivery.status == DeliveryStatus.PENDING.value:
        raise Conflict("The delivery is still pending.", {"status": delivery.status})
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING.value
    delivery.next_attempt_at = now
    delivery.updated_at = now
    queue_delivery(db, delivery, now)
    _queued(db, delivery)
    await audit.record(
        db, actor, "webhook.retry", ("webhook", webhook.id), details={"deliveryId": delivery.id}
    )
    return delivery
