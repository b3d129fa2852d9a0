"""Licences: `sl_` keys verified with the configured public key, their status, where they come
from, and the Enterprise features, tier and user cap they gate."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from sophon.app import create_app
from sophon.settings import Settings, Tier
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority, b64url, enterprise_payload, iso_in, mint, sign

LICENSE = "/api/admin/license"
VERIFY = "/api/admin/license/verify"
AUDITOR = {"name": "Auditor", "permissions": ["ViewAudit"]}


@pytest.fixture
def tier() -> Tier:
    return Tier.ENTERPRISE


@pytest.fixture
def config_key(request: pytest.FixtureRequest, authority: Authority) -> str | None:
    """`SOPHON_LICENSE_KEY`: none unless a test asks for a "valid" or "expired" one (indirect)."""
    kind = getattr(request, "param", None)
    if kind is None:
        return None
    expires_in = timedelta(days=-1) if kind == "expired" else timedelta(days=365)
    return authority.licence(license_id="lic_config", features=["rbac"], expires_in=expires_in)


@pytest.fixture
def gateway_overrides(authority: Authority, tier: Tier, config_key: str | None) -> dict[str, Any]:
    return {"tier": tier, "license_public_key": authority.public_b64, "license_key": config_key}


async def install(client: httpx.AsyncClient, admin: Caller, key: str) -> httpx.Response:
    return await client.post(LICENSE, headers=admin.headers, json={"key": key})


async def current(client: httpx.AsyncClient, admin: Caller) -> dict[str, Any]:
    response = await client.get(LICENSE, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_no_licence_installed(client: httpx.AsyncClient, admin: Caller) -> None:
    body = await current(client, admin)
    assert body["installed"] is False
    assert body["status"] is None
    assert body["features"] == []


async def test_installing_a_valid_key(
    client: httpx.AsyncClient, admin: Caller, authority: Authority, data_dir: Path
) -> None:
    key = authority.licence(features=["rbac", "sso"], max_users=25, license_id="lic_42")
    response = await install(client, admin, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["installed"] is True
    assert body["status"] == "Active"
    assert body["source"] == "installed"
    assert body["tier"] == "Enterprise"
    assert body["features"] == ["rbac", "sso"]
    assert body["maxUsers"] == 25
    assert body["licenseId"] == "lic_42"
    assert body["issuedTo"] == "Example Corp"
    assert body["expiresAt"].endswith("Z")
    assert await current(client, admin) == body
    assert (data_dir / "config" / "license.key").read_text().strip() == key
    trail = await client.get(
        "/api/admin/audit", params={"action": "license.install"}, headers=admin.headers
    )
    assert [e["resource"]["id"] for e in trail.json()["items"]] == ["lic_42"]


async def test_a_key_expiring_within_60_days_is_expiring_and_still_works(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    response = await install(client, admin, authority.licence(expires_in=timedelta(days=30)))
    assert response.json()["status"] == "Expiring"
    made = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
    assert made.status_code == 201, made.text


async def test_an_expired_key_is_refused_and_verifies_as_expired(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    key = authority.licence(expires_in=timedelta(days=-1))
    verified = await client.post(VERIFY, headers=admin.headers, json={"key": key})
    assert verified.status_code == 200
    assert verified.json()["status"] == "Expired"
    assert verified.json()["source"] == "given"
    error = assert_error(await install(client, admin, key), 422, "validation_failed")
    assert error["details"]["status"] == "Expired"
    assert (await current(client, admin))["installed"] is False


def invalid_keys(authority: Authority) -> dict[str, str]:
    genuine = authority.licence()
    body, signature = genuine.removeprefix("sl_").split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    richer = b64url(json.dumps(payload | {"maxUsers": 100_000}).encode())
    incomplete = {k: v for k, v in payload.items() if k != "expiresAt"}
    return {
        "tampered payload": f"sl_{richer}.{signature}",
        "wrong key pair": Authority.new().licence(),
        "garbage": "sl_garbage",
        "not an sl_ key": "hello world",
        "bad base64": "sl_%%%.%%%",
        "signed non-JSON": sign(authority.private, b"not json"),
        "signed JSON array": sign(authority.private, b"[1, 2]"),
        "no expiresAt": mint(authority.private, **incomplete),
        "bad maxUsers": mint(authority.private, **payload | {"maxUsers": "lots"}),
        "bad expiresAt": mint(authority.private, **payload | {"expiresAt": "next year"}),
        "features not a list": mint(authority.private, **payload | {"features": "rbac"}),
        "issuedTo not text": mint(authority.private, **payload | {"issuedTo": 5}),
    }


async def test_bad_keys_verify_as_invalid_and_are_refused(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    for case, key in invalid_keys(authority).items():
        verified = await client.post(VERIFY, headers=admin.headers, json={"key": key})
        assert verified.status_code == 200, (case, verified.text)
        assert verified.json()["status"] == "Invalid", case
        assert verified.json()["problem"], case
        error = assert_error(await install(client, admin, key), 422, "validation_failed")
        assert error["details"]["status"] == "Invalid", case
    assert (await current(client, admin))["installed"] is False


async def test_an_expiry_without_a_zone_is_read_as_utc(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    naive = iso_in(timedelta(days=365)).removesuffix("Z")
    key = mint(authority.private, **enterprise_payload() | {"expiresAt": naive})
    verified = await client.post(VERIFY, headers=admin.headers, json={"key": key})
    assert verified.json()["status"] == "Active", verified.text


@pytest.mark.parametrize("gateway_overrides", [{"tier": Tier.ENTERPRISE}])
async def test_without_a_public_key_nothing_verifies(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    verified = await client.post(VERIFY, headers=admin.headers, json={"key": authority.licence()})
    assert verified.json()["status"] == "Invalid"
    assert "SOPHON_LICENSE_PUBLIC_KEY" in verified.json()["problem"]


async def test_verify_without_a_key_checks_the_installed_licence(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    empty = await client.post(VERIFY, headers=admin.headers, json={})
    assert empty.json()["installed"] is False
    await install(client, admin, authority.licence(license_id="lic_in_force"))
    verified = await client.post(VERIFY, headers=admin.headers, json={})
    assert verified.json()["licenseId"] == "lic_in_force"
    assert verified.json()["status"] == "Active"


@pytest.mark.parametrize("config_key", ["valid"], indirect=True)
async def test_the_configured_key_wins_and_blocks_installs(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    body = await current(client, admin)
    assert (body["source"], body["status"], body["licenseId"]) == ("config", "Active", "lic_config")
    refused = await install(client, admin, authority.licence(license_id="lic_api"))
    assert_error(refused, 409, "conflict")
    assert (await current(client, admin))["licenseId"] == "lic_config"
    made = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
    assert made.status_code == 201, made.text


@pytest.mark.parametrize("config_key", ["expired"], indirect=True)
async def test_an_expired_configured_key_grants_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    assert (await current(client, admin))["status"] == "Expired"
    response = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
    assert assert_error(response, 403, "not_authorized")["details"]["feature"] == "rbac"


async def test_sophon_license_key_overrides_an_installed_key(
    client: httpx.AsyncClient,
    admin: Caller,
    authority: Authority,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (await install(client, admin, authority.licence(license_id="lic_api"))).is_success
    from_config = authority.licence(license_id="lic_config")
    monkeypatch.setenv("SOPHON_LICENSE_KEY", from_config)
    from_env = Settings(**settings.model_dump(exclude={"license_key"}))
    second: FastAPI = create_app(from_env)
    async with (
        LifespanManager(second) as started,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=started.app), base_url="http://testserver"
        ) as other,
    ):
        body = await current(other, admin)
        assert (body["source"], body["licenseId"]) == ("config", "lic_config")
        assert_error(await install(other, admin, authority.licence()), 409, "conflict")
    assert (await current(client, admin))["licenseId"] == "lic_api"  # this replica's settings


async def test_licence_routes_need_manage_license(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    key = authority.licence()
    for response in (
        await client.get(LICENSE, headers=viewer.headers),
        await client.post(LICENSE, headers=viewer.headers, json={"key": key}),
        await client.post(VERIFY, headers=viewer.headers, json={"key": key}),
    ):
        error = assert_error(response, 403, "not_authorized")
        assert error["details"] == {"permission": "ManageLicense"}
    assert (await current(client, admin))["installed"] is False


async def test_custom_roles_need_a_licence_with_rbac(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    lacking = [
        None,  # Enterprise tier, but no licence at all
        authority.licence(features=["multi_tenancy", "sso"]),
        authority.licence(tier="Pro", features=["rbac"]),  # a lower tier's licence
    ]
    for key in lacking:
        if key is not None:
            assert (await install(client, admin, key)).is_success
        response = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
        error = assert_error(response, 403, "not_authorized")
        assert error["details"] == {"feature": "rbac", "requiredTier": "Enterprise"}
    await install(client, admin, authority.licence(features=["rbac"]))
    response = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
    assert response.status_code == 201, response.text
    assert response.json()["permissions"] == ["ViewAudit"]
    roles = (await client.get("/api/admin/roles", headers=admin.headers)).json()["items"]
    assert [r["name"] for r in roles if not r["builtin"]] == ["Auditor"]


@pytest.mark.parametrize("tier", [Tier.PRO])
async def test_below_enterprise_the_tier_refuses_first(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    await install(client, admin, authority.licence(features=["rbac"]))
    response = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
    error = assert_error(response, 403, "not_authorized")
    assert error["details"]["requiredTier"] == "Enterprise"
    assert error["details"]["tier"] == "Pro"


async def test_max_users_caps_user_creation(
    client: httpx.AsyncClient, admin: Caller, authority: Authority
) -> None:
    await install(client, admin, authority.licence(max_users=2))
    await add_user(client, admin, "second@example.com")
    response = await client.post(
        "/api/admin/users",
        headers=admin.headers,
        json={"email": "third@example.com", "displayName": "Third", "roles": ["Viewer"]},
    )
    error = assert_error(response, 409, "conflict")
    assert error["details"] == {"maxUsers": 2}
    listed = (await client.get("/api/admin/users", headers=admin.headers)).json()["items"]
    assert sorted(u["email"] for u in listed) == ["admin@example.com", "second@example.com"]
    trail = await client.get(
        "/api/admin/audit", params={"action": "user.create"}, headers=admin.headers
    )
    assert [e["details"]["email"] for e in trail.json()["items"]] == ["second@example.com"]


@pytest.mark.parametrize("config_key", ["valid"], indirect=True)
async def test_me_lists_the_licence_features_in_effect(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    """`GET /api/auth/me` names them, so a client shows only what the licence allows."""
    assert (await client.get("/api/auth/me", headers=admin.headers)).json()["features"] == ["rbac"]


@pytest.mark.parametrize("config_key", ["expired"], indirect=True)
async def test_me_lists_no_feature_of_an_expired_licence(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    assert (await client.get("/api/auth/me", headers=admin.headers)).json()["features"] == []
