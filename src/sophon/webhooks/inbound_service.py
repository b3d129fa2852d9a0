"""Inbound webhooks: verify a request against its receiver's scheme, drop repeats, apply the
filters, and start the action (an agent turn with the payload inside the external-content
wrapper, or a workflow through the injected launcher), recording a receipt either way."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit.marks import exempt
from sophon.chat import service as chat
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.errors import NotFound, RateLimited, Unauthenticated
from sophon.platform.ids import new_id
from sophon.platform.launcher import WorkflowLauncher
from sophon.platform.ratelimit import RateLimiter, RateLimitPolicy
from sophon.platform.tenancy import ALL_TENANTS
from sophon.platform.vault import Vault
from sophon.runtime.external import wrap
from sophon.tasks import service as tasks
from sophon.webhooks import templates
from sophon.webhooks.models import Kind, Receipt, Status, Webhook
from sophon.webhooks.service import secret_aad
from sophon.webhooks.signing import Scheme, SignatureRejected, verify

log = logging.getLogger("sophon.webhooks")

DEDUPE_WINDOW = timedelta(hours=24)
MESSAGE_CHARS = 60_000
_DEDUPE_HEADERS = {
    Scheme.STANDARD: ("webhook-id",),
    Scheme.GITHUB: ("x-github-delivery",),
    Scheme.SLACK: ("x-slack-retry-num",),  # Slack retries carry the same body; see _dedupe_key
    Scheme.STRIPE: (),
    Scheme.SOPHON: ("webhook-id", "x-sophon-delivery"),
}


@dataclass(frozen=True)
class Request:
    slug: str
    headers: Mapping[str, str]  # case-insensitive (Starlette's)
    query: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Received:
    status: int
    matched: bool
    receipt_id: str | None = None
    task_id: str | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class InboundConfig:
    database: Database
    vault: Vault
    limiter: RateLimiter
    per_minute: int
    launcher: WorkflowLauncher | None = None


async def _receiver(db: AsyncSession, slug: str) -> Webhook:
    webhook = await db.scalar(
        select(Webhook).where(Webhook.slug == slug).execution_options(**ALL_TENANTS)
    )
    usable = (
        webhook is not None
        and webhook.kind == Kind.INBOUND.value
        and webhook.enabled
        and webhook.status != Status.DISABLED.value
    )
    if webhook is None or not usable:
        raise NotFound("No such webhook.", {"slug": slug})
    return webhook


def parse_body(body: bytes) -> Any:
    """The JSON payload, or the text when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _at_path(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def matches(filters: list[dict[str, Any]], headers: Mapping[str, str], payload: Any) -> bool:
    """Every filter holds: a header equals its value, or the JSON body at a path does."""
    for rule in filters:
        if rule["type"] == "header":
            if headers.get(str(rule["name"])) != str(rule.get("value")):
                return False
        elif _at_path(payload, str(rule["path"])) != rule.get("value"):
            return False
    return True


def _dedupe_key(scheme: Scheme, headers: Mapping[str, str], payload: Any) -> str | None:
    if scheme is Scheme.STRIPE and isinstance(payload, dict) and payload.get("id"):
        return str(payload["id"])[:200]
    if scheme is Scheme.SLACK:
        if isinstance(payload, dict) and payload.get("event_id"):
            return str(payload["event_id"])[:200]
        return None
    for name in _DEDUPE_HEADERS[scheme]:
        if headers.get(name):
            return str(headers[name])[:200]
    return None


def _message(webhook: Webhook, trigger: dict[str, Any], raw: bytes) -> str:
    template = (webhook.action or {}).get("messageTemplate")
    text = raw.decode("utf-8", "replace")
    if template:
        try:
            text = templates.render(str(template), trigger)
        except TemplateError as exc:
            log.warning("webhook %s template failed: %s", webhook.id, exc)
    wrapped = wrap(text[:MESSAGE_CHARS], "Webhook")
    return f'The webhook "{webhook.name}" received a request:\n{wrapped}'


async def _start_agent(db: AsyncSession, webhook: Webhook, content: str) -> str:
    action = webhook.action or {}
    agent = await agents.get(db, str(action.get("agentId")))
    session = chat.new_session(
        db, user_id=webhook.owner_id, agent_id=agent.id, kind="webhook", title=webhook.name
    )
    message = chat.append_message(db, session, "user", content)
    task = tasks.create(
        db,
        kind="webhook",
        user_id=webhook.owner_id,
        agent_id=agent.id,
        session_id=session.id,
        message_id=message.id,
        description=f"Webhook {webhook.name}",
        streaming=False,
    )
    return task.id


async def _previous(db: AsyncSession, webhook: Webhook, key: str) -> Receipt | None:
    found = await db.scalar(
        select(Receipt)
        .where(Receipt.webhook_id == webhook.id, Receipt.dedupe_key == key)
        .with_for_update()
    )
    if found is not None and utcnow() - found.received_at > DEDUPE_WINDOW:
        found.dedupe_key = None  # an old delivery id may come back: it is new again
        await db.flush()
        return None
    return found


@exempt("a receipt is its own record of an unauthenticated request")
async def receive(config: InboundConfig, request: Request) -> Received:
    """Handles one request to `/api/webhooks/receive/{slug}`."""
    decision = await config.limiter.hit(
        f"webhook-slug:{request.slug}", RateLimitPolicy.per_minute(config.per_minute)
    )
    if not decision.allowed:
        raise RateLimited(
            "Too many requests to this webhook; retry later.",
            {"limit": decision.limit},
            headers=decision.headers(),
        )
    async with config.database.transaction(readonly=True) as db:
        webhook = await _receiver(db, request.slug)
    async with config.database.transaction(tenant_id=webhook.tenant_id) as db:
        return await _handle(db, config, webhook, request)


async def _handle(
    db: AsyncSession, config: InboundConfig, webhook: Webhook, request: Request
) -> Received:
    now = utcnow()
    receipt = Receipt(
        id=new_id("rcp"),
        webhook_id=webhook.id,
        received_at=now,
        status_code=401,
        body_bytes=len(request.body),
    )
    scheme = Scheme(webhook.scheme or Scheme.SOPHON.value)
    secret = config.vault.decrypt(str(webhook.secret_blob), secret_aad(webhook.id))
    try:
        verify(scheme, secret, request.headers, request.body, now.timestamp())
    except SignatureRejected as exc:
        receipt.error = str(exc)
        db.add(receipt)
        raise Unauthenticated(
            "The webhook signature is missing or invalid.", {"reason": str(exc)}, keep_writes=True
        ) from None
    receipt.verified = True
    payload = parse_body(request.body)
    key = _dedupe_key(scheme, request.headers, payload)
    if key is not None:
        earlier = await _previous(db, webhook, key)
        if earlier is not None:
            return Received(200, earlier.matched, earlier.id, earlier.task_id, duplicate=True)
        receipt.dedupe_key = key
    receipt.status_code = 202
    receipt.matched = matches(list(webhook.filters or []), request.headers, payload)
    try:
        async with db.begin_nested():
            db.add(receipt)
            await db.flush()
    except IntegrityError:  # the same delivery id arrived at the same moment
        return Received(200, receipt.matched, None, None, duplicate=True)
    if receipt.matched:
        receipt.task_id = await _run_action(db, config, webhook, request, payload)
    return Received(202, receipt.matched, receipt.id, receipt.task_id)


async def _run_action(
    db: AsyncSession, config: InboundConfig, webhook: Webhook, request: Request, payload: Any
) -> str | None:
    seen = {
        "headers": {k.lower(): v for k, v in request.headers.items()},
        "query": request.query,
        "webhookId": webhook.id,
    }
    action = webhook.action or {}
    if action.get("type") == "workflow":
        if config.launcher is None:
            raise NotFound("workflow not found", {"workflowId": action.get("workflowId")})
        return await config.launcher.launch(
            db,
            str(action["workflowId"]),
            trigger={"type": "webhook", **seen},
            input=payload,
            user_id=webhook.owner_id,
        )
    trigger = {"body": payload, **seen}
    return await _start_agent(db, webhook, _message(webhook, trigger, request.body))
