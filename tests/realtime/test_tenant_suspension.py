"""Suspending a tenant closes its members' hub connections to it at once."""

from __future__ import annotations

import pytest

from sophon.settings import Settings, Tier
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority
from tests.realtime.live import Live
from tests.realtime.test_lifecycle import opened
from tests.tenants.tenant_helpers import assign, create_tenant


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


async def test_suspending_a_tenant_disconnects_its_members(live: Live, owner: Caller) -> None:
    tenant = await create_tenant(live.http, owner, "acme")
    member = await add_user(live.http, owner, "m@example.com", ["Member"])
    assert (await assign(live.http, owner, tenant["id"], member.id, ["Viewer"])).status_code == 201
    in_acme = await opened(live, f"{member.token}&tenant=acme", "tasks")
    at_home = await opened(live, member.token, "tasks")
    suspended = await live.http.patch(
        f"/api/admin/tenants/{tenant['id']}", headers=owner.headers, json={"status": "Suspended"}
    )
    assert suspended.status_code == 200, suspended.text
    close, _code = await in_acme.closed()
    assert close is not None
    assert (await at_home.invoke("Ping"))["type"] == 3  # the default tenant is unaffected
    await at_home.aclose()
