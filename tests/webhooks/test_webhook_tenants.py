"""Webhooks across tenants: another tenant's webhook is 404, and its events never reach this
tenant's endpoints (nor the reverse)."""

from __future__ import annotations

import httpx
import pytest

from sophon.settings import Settings, Tier
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority
from tests.tenants.tenant_helpers import assign, create_tenant
from tests.webhooks.helpers import add_outbound, deliveries
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    authority = Authority.new()
    return settings.model_copy(
        update={
            "tier": Tier.ENTERPRISE,
            "license_public_key": authority.public_b64,
            "license_key": authority.licence(),
        }
    )


async def test_events_and_webhooks_stay_in_their_tenant(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    tenant = await create_tenant(client, admin, "acme")
    acme = await add_user(client, admin, "admin@acme.example.com", [])
    assert (await assign(client, admin, tenant["id"], acme.email, ["Admin"])).is_success
    acme.tenant = "acme"
    home_hook = await add_outbound(client, admin, f"{receiver.url}/home", ["agent.created"])
    acme_hook = await add_outbound(client, acme, f"{receiver.url}/acme", ["agent.created"])
    response = await client.get(f"/api/webhooks/{acme_hook['id']}", headers=admin.headers)
    assert_error(response, 404, "not_found")
    response = await client.post(f"/api/webhooks/{acme_hook['id']}/test", headers=admin.headers)
    assert_error(response, 404, "not_found")

    made = await client.post("/api/agents", headers=acme.headers, json={"name": "Theirs"})
    assert made.status_code == 201, made.text
    (hit,) = await receiver.wait("/acme")
    assert hit.json()["data"]["agentId"] == made.json()["id"]
    assert hit.json()["tenant"] == tenant["id"]
    assert receiver.of("/home") == []
    assert await deliveries(client, admin, home_hook["id"]) == []
