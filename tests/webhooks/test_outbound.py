"""Outbound webhooks through the API: creation and its refusals, signed test deliveries verified
with the `standardwebhooks` library, retries, 410, failing endpoints, rotation, redirects."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
from standardwebhooks import Webhook as StandardWebhook

from sophon.gateway import Gateway
from tests.chat.chat_helpers import EventLog
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.webhooks.helpers import add_outbound, deliveries, get_webhook, settled
from tests.webhooks.receiver import Receiver


def verify_standard(secret: str, hit_body: bytes, headers: dict[str, str]) -> object:
    return StandardWebhook(secret).verify(hit_body, headers)


async def test_create_shows_the_secret_once_and_masks_headers(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook")
    assert created["id"].startswith("wh_")
    assert created["secret"].startswith("whsec_")
    assert created["kind"] == "outbound"
    assert created["status"] == "Active"
    assert created["eventTypes"] == ["task.*", "agent.*"]
    response = await client.patch(
        f"/api/webhooks/{created['id']}",
        headers=admin.headers,
        json={"headers": {"X-Api-Key": "super-secret-value"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["headers"] == {"X-Api-Key": "••••••"}
    shown = await get_webhook(client, admin, created["id"])
    assert shown["secret"] is None
    assert "super-secret-value" not in str(shown)
    listed = (await client.get("/api/webhooks", headers=admin.headers)).json()["items"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert listed[0]["secret"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "eventTypes": ["task.*"]}, "url"),
        ({"url": "http://user:pw@example.com/x", "eventTypes": ["task.*"]}, "url"),
        ({"url": "http://10.0.0.1/x", "eventTypes": ["task.*"]}, "url"),
        ({"url": "http://169.254.169.254/latest", "eventTypes": ["task.*"]}, "url"),
        ({"eventTypes": ["task.*"]}, "url"),
        ({"url": "http://example.com/x", "eventTypes": ["task.exploded"]}, "eventTypes"),
        ({"url": "http://example.com/x", "eventTypes": []}, "eventTypes"),
        ({"url": "http://[::1]:9/x", "eventTypes": ["task.*"]}, "url"),
        (
            {"url": "http://example.com/x", "eventTypes": ["task.*"], "headers": {"Host": "a"}},
            "headers",
        ),
    ],
)
async def test_bad_outbound_input_is_refused_and_nothing_written(
    client: httpx.AsyncClient, admin: Caller, body: dict[str, object], field: str
) -> None:
    response = await client.post(
        "/api/webhooks", headers=admin.headers, json={"name": "x", "kind": "outbound", **body}
    )
    error = assert_error(response, 422, "validation_failed")
    assert error["details"]["fields"][0]["field"] == f"body.{field}"
    listed = await client.get("/api/webhooks", headers=admin.headers)
    assert listed.json()["items"] == []


async def test_webhooks_need_manage_webhooks(client: httpx.AsyncClient, admin: Caller) -> None:
    member = await add_user(client, admin, "m@example.com", ["Member"])
    response = await client.get("/api/webhooks", headers=member.headers)
    assert_error(response, 403, "not_authorized")
    response = await client.post(
        "/api/webhooks",
        headers=member.headers,
        json={"name": "x", "url": "http://example.com", "eventTypes": ["task.*"]},
    )
    assert_error(response, 403, "not_authorized")


async def test_test_delivery_is_signed_for_standard_webhooks_and_sophon(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook")
    secret = created["secret"]
    response = await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["id"].startswith("dlv_")
    assert queued["eventType"] == "webhook.test"
    (hit,) = await receiver.wait("/hook")
    payload = verify_standard(secret, hit.body, hit.headers)
    assert payload == hit.json()
    assert hit.json()["type"] == "webhook.test"
    assert hit.json()["data"]["webhookId"] == created["id"]
    assert set(hit.json()) == {"type", "timestamp", "tenant", "data"}
    assert hit.headers["webhook-id"] == queued["id"]
    expected = hmac.new(secret.encode(), hit.body, hashlib.sha256).hexdigest()
    assert hit.headers["x-sophon-signature"] == f"sha256={expected}"
    done = await settled(client, admin, created["id"], queued["id"])
    assert done["status"] == "Succeeded"
    (attempt,) = done["attemptLog"]
    assert attempt["statusCode"] == 200
    assert attempt["succeeded"] is True
    assert attempt["responseBody"] == "ok 200"
    assert attempt["responseHeaders"]["content-type"] == "text/plain"
    assert (await get_webhook(client, admin, created["id"]))["lastDeliveryAt"] is not None


async def test_rotation_signs_with_both_secrets(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook")
    old = created["secret"]
    rotated = await client.post(
        f"/api/webhooks/{created['id']}/rotate-secret", headers=admin.headers
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_")
    assert new != old
    await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)
    (hit,) = await receiver.wait("/hook")
    assert hit.headers["webhook-signature"].count("v1,") == 2
    verify_standard(old, hit.body, hit.headers)
    verify_standard(new, hit.body, hit.headers)
    expected = hmac.new(new.encode(), hit.body, hashlib.sha256).hexdigest()
    assert hit.headers["x-sophon-signature"] == f"sha256={expected}"


async def test_failures_retry_with_the_same_id_until_success(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook")
    receiver.answer(500, 503)
    queued = (
        await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)
    ).json()
    hits = await receiver.wait("/hook", 3)
    assert {h.headers["webhook-id"] for h in hits} == {queued["id"]}
    done = await settled(client, admin, created["id"], queued["id"])
    assert done["status"] == "Succeeded"
    assert done["attempts"] == 3
    assert [a["statusCode"] for a in done["attemptLog"]] == [500, 503, 200]
    assert done["attemptLog"][0]["error"] == "HTTP 500"


async def test_giving_up_after_the_schedule_then_retry_by_hand(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook")
    receiver.answer(500, 500, 500, 500)
    queued = (
        await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)
    ).json()
    done = await settled(client, admin, created["id"], queued["id"])
    assert done["status"] == "Failed"
    assert done["attempts"] == 4
    failed = await deliveries(client, admin, created["id"], status="Failed")
    assert [d["id"] for d in failed] == [queued["id"]]
    assert await deliveries(client, admin, created["id"], status="Succeeded") == []
    retried = await client.post(
        f"/api/webhooks/{created['id']}/deliveries/{queued['id']}/retry", headers=admin.headers
    )
    assert retried.status_code == 202, retried.text
    again = await client.post(
        f"/api/webhooks/{created['id']}/deliveries/{queued['id']}/retry", headers=admin.headers
    )
    assert_error(again, 409, "conflict")
    done = await settled(client, admin, created["id"], queued["id"])
    assert done["status"] == "Succeeded"
    assert done["attempts"] == 5
    hits = receiver.of("/hook")
    assert len(hits) == 5
    assert len({h.body for h in hits}) == 1


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook")
    receiver.answer(302, 302, 302, 302, headers={"location": f"{receiver.url}/elsewhere"})
    queued = (
        await client.post(f"/api/webhooks/{created['id']}/test", headers=admin.headers)
    ).json()
    done = await settled(client, admin, created["id"], queued["id"])
    assert done["status"] == "Failed"
    assert {a["statusCode"] for a in done["attemptLog"]} == {302}
    assert receiver.of("/elsewhere") == []


async def test_gone_disables_the_endpoint_at_once_and_tells_the_owner(
    client: httpx.AsyncClient,
    admin: Caller,
    receiver: Receiver,
    gateway: Gateway,
    events: EventLog,
) -> None:
    created = await add_outbound(client, admin, f"{receiver.url}/hook", ["agent.*"])
    receiver.answer(410)
    await client.post("/api/agents", headers=admin.headers, json={"name": "Gone"})
    (hit,) = await receiver.wait("/hook")
    assert hit.json()["type"] == "agent.created"
    note = await events.wait_for(lambda e: e.name == "Notification")
    assert note.payload["webhookId"] == created["id"]
    assert note.audience.user_ids == frozenset({admin.id})
    shown = await get_webhook(client, admin, created["id"])
    assert shown["status"] == "Disabled"
    assert shown["enabled"] is False
    (only,) = await deliveries(client, admin, created["id"])
    assert only["status"] == "Failed"
    assert only["attempts"] == 1
    await client.post("/api/agents", headers=admin.headers, json={"name": "Later"})
    assert len(await deliveries(client, admin, created["id"])) == 1  # none for a disabled one
