from __future__ import annotations

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import PASSWORD, Caller, login


async def test_me_describes_user_roles_permissions_tenants_tier(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    me = (await client.get("/api/auth/me", headers=admin.headers)).json()
    assert me["user"]["email"] == admin.email
    assert me["tenant"]["slug"] == "default"
    assert [t["slug"] for t in me["tenants"]] == ["default"]
    assert me["tenants"][0]["roles"] == ["Admin"]
    assert me["tier"] == "Personal"
    assert me["authMethod"] == "jwt"
    assert "ViewAudit" in me["permissions"]


async def test_admin_created_user_must_change_password_first(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await client.post(
        "/api/admin/users",
        headers=admin.headers,
        json={"email": "new@example.com", "displayName": "New", "roles": ["Viewer"]},
    )
    assert made.status_code == 201
    initial = made.json()["initialPassword"]
    assert initial
    new = await login(client, "new@example.com", initial)
    refused = await client.get("/api/auth/sessions", headers=new.headers)
    error = assert_error(refused, 403, "not_authorized")
    assert error["details"]["code"] == "password_change_required"
    assert (await client.get("/api/auth/me", headers=new.headers)).json()["user"][
        "mustChangePassword"
    ]
    changed = await client.post(
        "/api/auth/password",
        headers=new.headers,
        json={"currentPassword": initial, "newPassword": "a-brand-new-secret"},
    )
    assert changed.status_code == 204
    assert (await client.get("/api/auth/sessions", headers=new.headers)).status_code == 200
    await login(client, "new@example.com", "a-brand-new-secret")


async def test_password_change_needs_the_current_password(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    wrong = await client.post(
        "/api/auth/password",
        headers=admin.headers,
        json={"currentPassword": "nope", "newPassword": "another-long-secret"},
    )
    assert_error(wrong, 403, "not_authorized")
    weak = await client.post(
        "/api/auth/password",
        headers=admin.headers,
        json={"currentPassword": PASSWORD, "newPassword": "short"},
    )
    assert_error(weak, 422, "validation_failed")
    await login(client, admin.email, PASSWORD)  # unchanged


async def test_password_change_ends_the_other_sessions(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    other = await login(client, admin.email)
    changed = await client.post(
        "/api/auth/password",
        headers=admin.headers,
        json={"currentPassword": PASSWORD, "newPassword": "another-long-secret"},
    )
    assert changed.status_code == 204
    assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200
    assert_error(await client.get("/api/auth/me", headers=other.headers), 401, "unauthenticated")
