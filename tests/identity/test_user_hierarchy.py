"""Managing users is bounded by what the actor holds: nobody acts on, or grants, permissions they
lack, and a tenant keeps at least one active Admin."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user

USERS = "/api/admin/users"


async def _narrowed(client: httpx.AsyncClient, admin: Caller, *permissions: str) -> dict[str, str]:
    response = await client.post(
        "/api/auth/tokens",
        headers=admin.headers,
        json={"name": "hr", "permissions": list(permissions)},
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def _user(client: httpx.AsyncClient, admin: Caller, user_id: str) -> dict[str, Any]:
    response = await client.get(f"{USERS}/{user_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_manage_users_alone_cannot_touch_an_admin(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    hr = await _narrowed(client, admin, "ManageUsers", "ViewUsers")
    bob = await add_user(client, admin, "bob@example.com", ["Admin"])
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PATCH", f"{USERS}/{bob.id}", {"status": "Suspended"}),
        ("PATCH", f"{USERS}/{bob.id}", {"displayName": "Mallory"}),
        ("PATCH", f"{USERS}/{bob.id}", {"mustChangePassword": True}),
        ("POST", f"{USERS}/{bob.id}/logout", None),
        ("DELETE", f"{USERS}/{bob.id}", None),
    ]
    for method, url, body in attempts:
        response = await client.request(method, url, headers=hr, json=body)
        error = assert_error(response, 403, "not_authorized")
        assert "ManageTenants" in error["details"]["permissions"]
    after = await _user(client, admin, bob.id)
    assert (after["status"], after["displayName"], after["mustChangePassword"]) == (
        "Active",
        "bob",
        False,
    )
    assert (await client.get("/api/auth/me", headers=bob.headers)).status_code == 200
    assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200


async def test_manage_users_still_manages_users_within_its_reach(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    hr = await _narrowed(client, admin, "ManageUsers", "ViewUsers")
    carol = await add_user(client, admin, "carol@example.com", [])
    renamed = await client.patch(f"{USERS}/{carol.id}", headers=hr, json={"displayName": "C"})
    assert renamed.status_code == 200, renamed.text
    suspended = await client.patch(f"{USERS}/{carol.id}", headers=hr, json={"status": "Suspended"})
    assert suspended.json()["status"] == "Suspended"
    assert (await client.delete(f"{USERS}/{carol.id}", headers=hr)).status_code == 204


async def test_roles_beyond_the_actors_own_cannot_be_granted(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    hr = await _narrowed(client, admin, "ManageUsers", "ViewUsers", "AssignRoles")
    carol = await add_user(client, admin, "carol@example.com", [])
    promoted = await client.patch(f"{USERS}/{carol.id}", headers=hr, json={"roles": ["Admin"]})
    refused = assert_error(promoted, 403, "not_authorized")
    assert "ManageTenants" in refused["details"]["permissions"]
    created = await client.post(
        USERS, headers=hr, json={"email": "eve@example.com", "displayName": "E", "roles": ["Admin"]}
    )
    assert_error(created, 403, "not_authorized")
    assert (await _user(client, admin, carol.id))["roles"] == []
    emails = [u["email"] for u in (await client.get(USERS, headers=admin.headers)).json()["items"]]
    assert "eve@example.com" not in emails


async def test_the_last_active_admin_cannot_demote_themselves(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bob = await add_user(client, admin, "bob@example.com", ["Admin"])
    suspended = await client.patch(
        f"{USERS}/{bob.id}", headers=admin.headers, json={"status": "Suspended"}
    )
    assert suspended.status_code == 200, suspended.text
    demoted = await client.patch(
        f"{USERS}/{admin.id}", headers=admin.headers, json={"roles": ["Viewer"]}
    )
    error = assert_error(demoted, 409, "conflict")
    assert "last active Admin" in error["message"]
    assert error["details"] == {"reason": "last_admin"}
    assert (await _user(client, admin, admin.id))["roles"] == ["Admin"]
