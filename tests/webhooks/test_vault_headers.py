"""An outbound webhook's header may carry `{{vault:<name>}}`: resolved from the tenant's
connections when the delivery is sent (stored and shown as the reference), and a name that is no
connection fails the delivery with a clear error instead of sending the reference."""

from __future__ import annotations

import httpx

from tests.identity_helpers import Caller
from tests.webhooks.helpers import add_webhook, settled
from tests.webhooks.receiver import Receiver

TOKEN = "hook-token-0123456789"


async def _test(client: httpx.AsyncClient, caller: Caller, webhook_id: str) -> dict[str, object]:
    response = await client.post(f"/api/webhooks/{webhook_id}/test", headers=caller.headers)
    assert response.status_code in (200, 201, 202), response.text
    sent: dict[str, object] = response.json()
    return await settled(client, caller, webhook_id, str(sent["id"]))


async def test_a_header_vault_reference_is_resolved_when_sent(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    made = await client.post(
        "/api/connections",
        headers=admin.headers,
        json={"name": "hook-token", "authType": "bearer", "secret": TOKEN},
    )
    assert made.status_code == 201, made.text
    hook = await add_webhook(
        client,
        admin,
        kind="outbound",
        url=f"{receiver.url}/hook",
        eventTypes=["task.*"],
        headers={"Authorization": "Bearer {{vault:hook-token}}"},
    )
    done = await _test(client, admin, hook["id"])
    assert done["status"] == "Succeeded", done
    (hit,) = receiver.of("/hook")
    assert hit.headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_missing_name_fails_the_delivery_without_sending(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    hook = await add_webhook(
        client,
        admin,
        kind="outbound",
        url=f"{receiver.url}/hook",
        eventTypes=["task.*"],
        headers={"X-Key": "{{vault:nowhere}}"},
    )
    done = await _test(client, admin, hook["id"])
    assert done["status"] == "Failed", done
    assert "{{vault:nowhere}} names no connection" in str(done["attemptLog"])
    assert receiver.of("/hook") == []
