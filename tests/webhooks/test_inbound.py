"""Inbound webhooks through the public receiving route: the five signature schemes, refusals
(exact status and code, nothing started), repeats, filters, the body limit, the per-slug bound,
and the agent turn that gets the payload inside the external-content wrapper."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from standardwebhooks import Webhook as StandardWebhook

from sophon.gateway import Gateway
from sophon.platform.tenancy import ALL_TENANTS
from sophon.tasks.models import Task
from tests.chat.chat_helpers import wait_task
from tests.helpers import assert_error
from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.webhooks.helpers import add_webhook, deliveries

PUSH = {"ref": "refs/heads/main", "head_commit": {"message": "Fix the flux capacitor"}}
TEMPLATE = "A push happened: {{$trigger.body.head_commit.message}} on {{$trigger.body.ref}}"
CHAT = "/v1/chat/completions"


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed(scheme: str, secret: str, body: bytes, *, at: int | None = None) -> dict[str, str]:
    """Headers as each provider sends them."""
    stamp = at if at is not None else int(time.time())
    if scheme == "sophon":
        return {"X-Sophon-Signature": f"sha256={hex_hmac(secret, body)}"}
    if scheme == "github":
        return {
            "X-Hub-Signature-256": f"sha256={hex_hmac(secret, body)}",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
        }
    if scheme == "stripe":
        digest = hex_hmac(secret, f"{stamp}.".encode() + body)
        return {"Stripe-Signature": f"t={stamp},v1={digest}"}
    if scheme == "slack":
        digest = hex_hmac(secret, f"v0:{stamp}:".encode() + body)
        return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(stamp)}
    msg_id = f"msg_{uuid.uuid4().hex}"
    signature = StandardWebhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


async def inbound(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, **fields: Any
) -> dict[str, Any]:
    action = {"type": "agent", "agentId": agent_id, "messageTemplate": TEMPLATE}
    return await add_webhook(
        client, admin, kind="inbound", **({"scheme": "sophon", "action": action} | fields)
    )


async def post(
    client: httpx.AsyncClient, slug: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        f"/api/webhooks/receive/{slug}",
        content=body,
        headers={"content-type": "application/json", **headers},
    )


async def task_count(gateway: Gateway) -> int:
    """Tasks, whatever their state (one count, so none moves between two lists meanwhile)."""
    async with gateway.db.transaction(readonly=True) as db:
        stmt = select(func.count()).select_from(Task).execution_options(**ALL_TENANTS)
        return int(await db.scalar(stmt) or 0)


async def test_a_signed_push_runs_the_agent_with_the_payload_wrapped(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer
) -> None:
    model.script("POST", CHAT, JsonReply(openai_completion("Noted.")))
    created = await inbound(client, admin, agent_id)
    assert created["receiveUrl"] == f"/api/webhooks/receive/{created['slug']}"
    secret = created["secret"]
    body = json.dumps(PUSH).encode()
    response = await post(client, created["slug"], body, signed("sophon", secret, body))
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["matched"] is True
    assert accepted["receiptId"].startswith("rcp_")
    assert accepted["taskId"].startswith("task_")
    task = await wait_task(client, admin, accepted["taskId"])
    assert task["status"] == "Completed", task
    (request,) = model.received(CHAT)
    user_turns = [m["content"] for m in request.json()["messages"] if m["role"] == "user"]
    text = user_turns[-1]
    assert 'source="Webhook"' in text
    inside = text.split("<external_content", 1)[1]
    assert "A push happened: Fix the flux capacitor on refs/heads/main" in inside
    (receipt,) = await deliveries(client, admin, created["id"])
    assert receipt["id"] == accepted["receiptId"]
    assert receipt["taskId"] == accepted["taskId"]
    assert receipt["verified"] is True
    assert receipt["matched"] is True


@pytest.mark.parametrize("scheme", ["sophon", "github", "stripe", "slack", "standard"])
async def test_every_scheme_accepts_its_signature_and_refuses_a_wrong_one(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, scheme: str, gateway: Gateway
) -> None:
    created = await inbound(client, admin, agent_id, scheme=scheme)
    secret = created["secret"]
    body = json.dumps({"id": f"evt_{scheme}", "event_id": f"ev-{scheme}", **PUSH}).encode()
    good = await post(client, created["slug"], body, signed(scheme, secret, body))
    assert good.status_code == 202, good.text
    before = await task_count(gateway)
    tampered = body.replace(b"main", b"evil")
    bad = await post(client, created["slug"], tampered, signed(scheme, secret, body))
    assert_error(bad, 401, "unauthenticated")
    other = await post(client, created["slug"], body, signed(scheme, "whsec_" + "A" * 44, body))
    assert_error(other, 401, "unauthenticated")
    missing = await post(client, created["slug"], body, {})
    assert_error(missing, 401, "unauthenticated")
    assert await task_count(gateway) == before
    receipts = await deliveries(client, admin, created["id"])
    assert [r["verified"] for r in receipts] == [False, False, False, True]


@pytest.mark.parametrize("scheme", ["stripe", "slack", "standard"])
async def test_a_timestamp_outside_five_minutes_is_refused(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, scheme: str, gateway: Gateway
) -> None:
    created = await inbound(client, admin, agent_id, scheme=scheme)
    body = json.dumps(PUSH).encode()
    stale = signed(scheme, created["secret"], body, at=int(time.time()) - 301)
    response = await post(client, created["slug"], body, stale)
    assert_error(response, 401, "unauthenticated")
    assert await task_count(gateway) == 0


async def test_unknown_and_disabled_slugs_are_404(
    client: httpx.AsyncClient, admin: Caller, agent_id: str
) -> None:
    body = b"{}"
    assert_error(await post(client, "no-such-slug", body, {}), 404, "not_found")
    created = await inbound(client, admin, agent_id, slug="my-hook")
    assert created["slug"] == "my-hook"
    await client.patch(
        f"/api/webhooks/{created['id']}", headers=admin.headers, json={"enabled": False}
    )
    response = await post(client, "my-hook", body, signed("sophon", created["secret"], body))
    assert_error(response, 404, "not_found")
    taken = await client.post(
        "/api/webhooks",
        headers=admin.headers,
        json={
            "kind": "inbound",
            "name": "again",
            "slug": "my-hook",
            "action": {"type": "agent", "agentId": agent_id},
        },
    )
    assert_error(taken, 409, "conflict")


async def test_a_repeated_delivery_id_runs_nothing_again(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, gateway: Gateway
) -> None:
    created = await inbound(client, admin, agent_id, scheme="standard")
    body = json.dumps(PUSH).encode()
    headers = signed("standard", created["secret"], body)
    first = await post(client, created["slug"], body, headers)
    assert first.status_code == 202, first.text
    again = await post(client, created["slug"], body, headers)
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["taskId"] == first.json()["taskId"]
    assert await task_count(gateway) == 1
    assert len(await deliveries(client, admin, created["id"])) == 1


async def test_filters_that_do_not_match_start_nothing(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, gateway: Gateway
) -> None:
    filters = [
        {"type": "header", "name": "X-GitHub-Event", "value": "push"},
        {"type": "body", "path": "ref", "value": "refs/heads/main"},
    ]
    created = await inbound(client, admin, agent_id, scheme="github", filters=filters)
    secret = created["secret"]
    other_branch = json.dumps({**PUSH, "ref": "refs/heads/dev"}).encode()
    response = await post(
        client, created["slug"], other_branch, signed("github", secret, other_branch)
    )
    assert response.status_code == 202, response.text
    assert response.json()["matched"] is False
    assert response.json()["taskId"] is None
    body = json.dumps(PUSH).encode()
    issue = signed("github", secret, body) | {"X-GitHub-Event": "issues"}
    response = await post(client, created["slug"], body, issue)
    assert response.json()["matched"] is False
    assert await task_count(gateway) == 0
    response = await post(client, created["slug"], body, signed("github", secret, body))
    assert response.json()["matched"] is True
    assert await task_count(gateway) == 1


async def test_a_body_over_the_limit_is_413(
    client: httpx.AsyncClient, admin: Caller, agent_id: str
) -> None:
    created = await inbound(client, admin, agent_id)
    body = json.dumps({"blob": "x" * 5000}).encode()
    response = await post(client, created["slug"], body, signed("sophon", created["secret"], body))
    assert_error(response, 413, "payload_too_large")
    assert await deliveries(client, admin, created["id"]) == []


async def test_the_workflow_action_needs_a_workflow(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        "/api/webhooks",
        headers=admin.headers,
        json={
            "kind": "inbound",
            "name": "wf",
            "action": {"type": "workflow", "workflowId": "wf_nope"},
        },
    )
    error = assert_error(response, 422, "validation_failed")
    assert error["message"] == "workflow not found"
    assert (await client.get("/api/webhooks", headers=admin.headers)).json()["items"] == []


async def test_a_bad_template_or_agent_is_refused(
    client: httpx.AsyncClient, admin: Caller, agent_id: str
) -> None:
    bad = {"type": "agent", "agentId": agent_id, "messageTemplate": "{{ $trigger.body"}
    response = await client.post(
        "/api/webhooks", headers=admin.headers, json={"kind": "inbound", "name": "t", "action": bad}
    )
    error = assert_error(response, 422, "validation_failed")
    assert error["details"]["fields"][0]["field"] == "body.action.messageTemplate"
    missing = {"type": "agent", "agentId": "agt_nope"}
    response = await client.post(
        "/api/webhooks",
        headers=admin.headers,
        json={"kind": "inbound", "name": "t", "action": missing},
    )
    assert_error(response, 404, "not_found")
    assert (await client.get("/api/webhooks", headers=admin.headers)).json()["items"] == []


async def test_templates_cannot_reach_python(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, model: FakeServer
) -> None:
    model.script("POST", CHAT, JsonReply(openai_completion("Noted.")))
    template = "{{ $trigger.body.__class__.__mro__ }}|{{ $trigger.nothing.deeper }}|done"
    action = {"type": "agent", "agentId": agent_id, "messageTemplate": template}
    created = await inbound(client, admin, agent_id, action=action)
    body = json.dumps(PUSH).encode()
    response = await post(client, created["slug"], body, signed("sophon", created["secret"], body))
    task = await wait_task(client, admin, response.json()["taskId"])
    assert task["status"] == "Completed"
    (request,) = model.received(CHAT)
    text = [m["content"] for m in request.json()["messages"] if m["role"] == "user"][-1]
    assert "||done" in text
    assert "class" not in text.split("<external_content", 1)[1]


async def test_each_slug_is_bounded_per_minute(
    client: httpx.AsyncClient, admin: Caller, agent_id: str, app: FastAPI
) -> None:
    created = await inbound(
        client, admin, agent_id, filters=[{"type": "body", "path": "x", "value": 1}]
    )
    limit = app.state.gateway.settings.webhook_inbound_per_minute
    body = b"{}"
    headers = signed("sophon", created["secret"], body)
    statuses = [
        (await post(client, created["slug"], body, headers)).status_code for _ in range(limit)
    ]
    assert statuses == [202] * limit
    response = await post(client, created["slug"], body, headers)
    assert_error(response, 429, "rate_limited")
    assert "retry-after" in response.headers
