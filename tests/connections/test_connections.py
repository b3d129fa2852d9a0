"""Named credentials: created sealed and shown only masked, tested against a test URL through
the outbound guard, rotated, deleted, audited, and kept within their tenant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sophon.settings import Settings, Tier
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority
from tests.tenants.tenant_helpers import assign, create_tenant
from tests.webhooks.receiver import Receiver

SECRET = "sk-live-0123456789abcdef"


async def _create(client: httpx.AsyncClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/connections",
        headers=caller.headers,
        json={"name": "openrouter", "authType": "bearer", "secret": SECRET, **body},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _audit_actions(client: httpx.AsyncClient, caller: Caller) -> list[str]:
    response = await client.get("/api/admin/audit", headers=caller.headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return [row["action"] for row in response.json()["items"]]


async def test_a_secret_is_stored_sealed_and_only_shown_masked(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    created = await _create(client, admin, service="openrouter")
    assert created["secret"] == "sk-…cdef"
    assert created["reference"] == "{{vault:openrouter}}"
    assert SECRET not in str(created)
    listed = (await client.get("/api/connections", headers=admin.headers)).json()["items"]
    assert [c["name"] for c in listed] == ["openrouter"]
    assert SECRET not in str(listed)
    one = await client.get(f"/api/connections/{created['id']}", headers=admin.headers)
    assert one.json()["secret"] == "sk-…cdef"
    assert_error(
        await client.post(
            "/api/connections",
            headers=admin.headers,
            json={"name": "openrouter", "authType": "apiKey", "secret": "x" * 20},
        ),
        409,
        "conflict",
    )
    assert "connection.create" in await _audit_actions(client, admin)


async def test_invalid_connections_are_refused(client: httpx.AsyncClient, admin: Caller) -> None:
    for body, status in (
        ({"name": "a b", "secret": "x"}, 422),
        ({"name": "basic", "authType": "basic", "secret": "pw"}, 422),
        ({"name": "web", "secret": "x", "testUrl": "ftp://example.com/"}, 422),
        ({"name": "hdr", "authType": "bearer", "secret": "x", "header": "X-Key"}, 422),
    ):
        response = await client.post("/api/connections", headers=admin.headers, json=body)
        assert response.status_code == status, (body, response.text)


async def test_the_test_calls_the_test_url_with_the_credential(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await _create(client, admin, testUrl=f"{receiver.url}/me")
    path = f"/api/connections/{created['id']}"
    tested = (await client.post(f"{path}/test", headers=admin.headers)).json()
    assert tested["ok"] is True, tested
    assert tested["tested"] is True
    assert tested["statusCode"] == 200
    (hit,) = receiver.of("/me")
    assert hit.headers["authorization"] == f"Bearer {SECRET}"

    receiver.answer(401)
    refused = (await client.post(f"{path}/test", headers=admin.headers)).json()
    assert refused["ok"] is False
    assert refused["statusCode"] == 401
    assert "refused the credential" in refused["error"]
    shown = (await client.get(path, headers=admin.headers)).json()
    assert shown["lastTestOk"] is False
    assert "401" in shown["lastError"]


async def test_without_a_test_url_nothing_is_sent_and_the_answer_says_so(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    created = await _create(client, admin, authType="apiKey", header="X-Token")
    tested = await client.post(f"/api/connections/{created['id']}/test", headers=admin.headers)
    body = tested.json()
    assert body["tested"] is False
    assert body["ok"] is False
    assert "testUrl" in body["error"]


async def test_a_test_url_to_a_private_address_is_refused_by_the_guard(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    created = await _create(client, admin, testUrl="http://10.1.2.3/me")
    tested = await client.post(f"/api/connections/{created['id']}/test", headers=admin.headers)
    body = tested.json()
    assert body["ok"] is False
    assert body["statusCode"] is None
    assert "refused" in body["error"].lower()


async def test_rotation_replaces_the_secret(
    client: httpx.AsyncClient, admin: Caller, receiver: Receiver
) -> None:
    created = await _create(client, admin, authType="apiKey", testUrl=f"{receiver.url}/me")
    path = f"/api/connections/{created['id']}"
    new = "sk-rotated-99999999zzzz"
    rotated = await client.post(f"{path}/rotate", headers=admin.headers, json={"secret": new})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] == "sk-…zzzz"
    assert rotated.json()["rotatedAt"]
    await client.post(f"{path}/test", headers=admin.headers)
    (hit,) = receiver.of("/me")
    assert hit.headers["x-api-key"] == new
    assert "connection.rotate" in await _audit_actions(client, admin)


async def test_delete_removes_the_connection(client: httpx.AsyncClient, admin: Caller) -> None:
    created = await _create(client, admin)
    path = f"/api/connections/{created['id']}"
    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert_error(await client.get(path, headers=admin.headers), 404, "not_found")
    assert "connection.delete" in await _audit_actions(client, admin)


async def test_a_member_may_not_manage_connections(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    member = await add_user(client, admin, "member@example.com", ["Member"])
    response = await client.get("/api/connections", headers=member.headers)
    assert_error(response, 403, "not_authorized")


class TestTenants:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        authority = Authority.new()
        return settings.model_copy(
            update={
                "tier": Tier.ENTERPRISE,
                "license_public_key": authority.public_b64,
                "license_key": authority.licence(),
            }
        )

    async def test_connections_stay_in_their_tenant(
        self, client: httpx.AsyncClient, admin: Caller
    ) -> None:
        created = await _create(client, admin)
        acme = await create_tenant(client, admin, "acme")
        other = await add_user(client, admin, "admin@acme.example.com", [])
        assert (await assign(client, admin, acme["id"], other.email, ["Admin"])).is_success
        other.tenant = "acme"
        assert (await client.get("/api/connections", headers=other.headers)).json()["items"] == []
        path = f"/api/connections/{created['id']}"
        for response in (
            await client.get(path, headers=other.headers),
            await client.delete(path, headers=other.headers),
            await client.post(f"{path}/test", headers=other.headers),
            await client.post(f"{path}/rotate", headers=other.headers, json={"secret": "x"}),
        ):
            assert_error(response, 404, "not_found")
        # the same name is free in another tenant
        await _create(client, other)
