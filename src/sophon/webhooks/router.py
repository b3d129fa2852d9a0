"""`/api/webhooks`: outbound endpoints with their deliveries, inbound receivers with their
receipts, and the public receiving route `POST /api/webhooks/receive/{slug}`."""

from __future__ import annotations

from typing import Literal

from fastapi import Query, Request, Response, status
from fastapi.responses import JSONResponse

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router, unlimited
from sophon.platform.errors import PayloadTooLarge
from sophon.platform.netguard import OutboundPolicy
from sophon.platform.pagination import Page, page_in_memory, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses
from sophon.webhooks import catalog, inbound_service
from sophon.webhooks import service as webhooks
from sophon.webhooks.models import Kind
from sophon.webhooks.schemas import (
    DeliveryOut,
    EventTypeOut,
    ReceiveAccepted,
    WebhookIn,
    WebhookOut,
    WebhookPatchIn,
)
from sophon.webhooks.views import delivery_out, receipt_out, webhook_out

router = api_router("/webhooks", tags=["Webhooks"])
manage = requires(P.MANAGE_WEBHOOKS)
ONE = error_responses(404)
CHANGE = error_responses(404, 409, 422)


def _policy(gateway: GatewayDep) -> OutboundPolicy:
    from sophon.platform.http import split_allow_setting

    return OutboundPolicy(split_allow_setting(gateway.settings.outbound_allow))


@router.get("/event-types", operation_id="listWebhookEventTypes")
@manage
async def event_types(gateway: GatewayDep, page: PageDep) -> Page[EventTypeOut]:
    """The outbound event catalog, each with the JSON Schema of its payload envelope."""
    items = [
        EventTypeOut(name=t.name, description=t.description, schema=t.schema())
        for t in catalog.EVENT_TYPES
    ]
    return page_in_memory(gateway.paginator, items, page, "webhook-event-types", lambda t: t.name)


@router.get("", operation_id="listWebhooks")
@manage
async def list_webhooks(
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    kind: Literal["outbound", "inbound"] | None = None,
) -> Page[WebhookOut]:
    """The tenant's webhooks, newest first; `?kind=` narrows to outbound or inbound."""
    stmt = webhooks.of_kind(kind)
    return await page_of(gateway.paginator, db, stmt, page, f"webhooks:{kind}", webhook_out)


@router.post(
    "",
    operation_id="createWebhook",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422),
)
@manage
async def create_webhook(
    body: WebhookIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> WebhookOut:
    """Creates an outbound endpoint or an inbound receiver; the answer shows the secret, once."""
    webhook, secret = await webhooks.create(
        db, principal, gateway.vault, _policy(gateway), body, gateway.workflow_launcher
    )
    return webhook_out(webhook, secret)


@router.get("/{webhook_id}", operation_id="getWebhook", responses=ONE)
@manage
async def get_webhook(webhook_id: str, db: DbDep) -> WebhookOut:
    """One webhook (extra header values masked, no secret)."""
    return webhook_out(await webhooks.get(db, webhook_id))


@router.patch("/{webhook_id}", operation_id="updateWebhook", responses=CHANGE)
@manage
async def update_webhook(
    webhook_id: str, body: WebhookPatchIn, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> WebhookOut:
    """Changes the fields sent; `enabled: true` also clears a Failing or Disabled status."""
    webhook = await webhooks.update(
        db, principal, gateway.vault, _policy(gateway), webhook_id, body, gateway.workflow_launcher
    )
    return webhook_out(webhook)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ONE,
)
@manage
async def delete_webhook(webhook_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Deletes the webhook with its deliveries and receipts."""
    await webhooks.delete(db, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/test",
    operation_id="testWebhook",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409),
)
@manage
async def test_webhook(webhook_id: str, db: DbDep, principal: PrincipalDep) -> DeliveryOut:
    """Queues a `webhook.test` event to the endpoint now; returns the delivery to follow."""
    return delivery_out(await webhooks.send_test(db, principal, webhook_id))


@router.get("/{webhook_id}/deliveries", operation_id="listWebhookDeliveries", responses=ONE)
@manage
async def list_deliveries(
    webhook_id: str,
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    status_: str | None = Query(None, alias="status", max_length=20),
    event_type: str | None = Query(None, alias="eventType", max_length=100),
) -> Page[DeliveryOut]:
    """Outbound: the deliveries, newest first (filter by `status`, `eventType`). Inbound: the
    receipts (verified or not, matched or not, the task each started)."""
    webhook = await webhooks.get(db, webhook_id)
    scope = f"webhook-deliveries:{webhook_id}:{status_}:{event_type}"
    if webhook.kind == Kind.INBOUND.value:
        matched = None if status_ is None else status_ in ("Accepted", "Failed")
        stmt = webhooks.receipts(webhook_id, matched)
        return await page_of(gateway.paginator, db, stmt, page, scope, receipt_out)
    stmt_out = webhooks.deliveries(webhook_id, status_, event_type)
    return await page_of(gateway.paginator, db, stmt_out, page, scope, delivery_out)


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}", operation_id="getWebhookDelivery", responses=ONE
)
@manage
async def get_delivery(webhook_id: str, delivery_id: str, db: DbDep) -> DeliveryOut:
    """One delivery with every attempt (time, status, duration, response headers, the first
    4 KB of the body, error), or one receipt."""
    row, attempts = await webhooks.get_delivery(db, webhook_id, delivery_id)
    return delivery_out(row, attempts)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    operation_id="retryWebhookDelivery",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409),
)
@manage
async def retry_delivery(
    webhook_id: str, delivery_id: str, db: DbDep, principal: PrincipalDep
) -> DeliveryOut:
    """Sends a delivery that succeeded or gave up again now (same id, same body)."""
    return delivery_out(await webhooks.retry(db, principal, webhook_id, delivery_id))


@router.post("/{webhook_id}/rotate-secret", operation_id="rotateWebhookSecret", responses=ONE)
@manage
async def rotate_secret(
    webhook_id: str, db: DbDep, gateway: GatewayDep, principal: PrincipalDep
) -> WebhookOut:
    """A new secret, shown once; outbound deliveries are signed with the old one too for 24 h."""
    webhook, secret = await webhooks.rotate_secret(db, principal, gateway.vault, webhook_id)
    return webhook_out(webhook, secret)


async def _body(request: Request, limit: int) -> bytes:
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            raise PayloadTooLarge(
                f"The webhook body exceeds the limit of {limit} bytes.", {"limitBytes": limit}
            )
    return bytes(received)


@router.post(
    "/receive/{slug}",
    operation_id="receiveWebhook",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 404, 413, 429),
)
@unlimited
async def receive(slug: str, request: Request, gateway: GatewayDep) -> JSONResponse:
    """The inbound target: verifies the signature (401), drops a repeated delivery id within
    24 h (200), applies the filters (202 `matched: false`) and starts the action in the
    background (202 with `receiptId`, `taskId`). Exempt from per-user limits, bounded per slug."""
    settings = gateway.settings
    body = await _body(request, settings.webhook_max_body_bytes)
    config = inbound_service.InboundConfig(
        database=gateway.db,
        vault=gateway.vault,
        limiter=gateway.limiter,
        per_minute=settings.webhook_inbound_per_minute,
        launcher=gateway.workflow_launcher,
    )
    incoming = inbound_service.Request(slug, request.headers, dict(request.query_params), body)
    result = await inbound_service.receive(config, incoming)
    answer = ReceiveAccepted(
        matched=result.matched,
        receipt_id=result.receipt_id,
        task_id=result.task_id,
        duplicate=result.duplicate,
    )
    return JSONResponse(answer.model_dump(mode="json", by_alias=True), status_code=result.status)
