"""Admin: users and roles, with each refusal's exact status and code."""

from __future__ import annotations

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user


async def test_missing_permission_is_403_naming_it(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    assert (await client.get("/api/admin/users", headers=viewer.headers)).status_code == 200
    response = await client.post(
        "/api/admin/users",
        headers=viewer.headers,
        json={"email": "x@example.com", "displayName": "X"},
    )
    error = assert_error(response, 403, "not_authorized")
    assert error["details"] == {"permission": "ManageUsers"}
    assert error["message"] == "Missing required permission: ManageUsers"


async def test_users_list_pages_and_get(client: httpx.AsyncClient, admin: Caller) -> None:
    for i in range(3):
        await add_user(client, admin, f"u{i}@example.com")
    first = (await client.get("/api/admin/users?limit=2", headers=admin.headers)).json()
    assert first["hasMore"] is True
    second = (
        await client.get(
            "/api/admin/users",
            params={"limit": 2, "cursor": first["nextCursor"]},
            headers=admin.headers,
        )
    ).json()
    emails = [u["email"] for u in first["items"] + second["items"]]
    assert sorted(emails) == [
        "admin@example.com",
        "u0@example.com",
        "u1@example.com",
        "u2@example.com",
    ]
    one = await client.get(f"/api/admin/users/{admin.id}", headers=admin.headers)
    assert one.json()["roles"] == ["Admin"]
    assert_error(
        await client.get("/api/admin/users/usr_nope", headers=admin.headers), 404, "not_found"
    )


async def test_duplicate_email_is_409(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.post(
        "/api/admin/users",
        headers=admin.headers,
        json={"email": "Admin@Example.com", "displayName": "Dup"},
    )
    assert_error(response, 409, "conflict")


async def test_bad_user_input_is_422_and_writes_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    cases = [
        {"email": "not-an-email", "displayName": "X"},
        {"email": "x@example.com", "displayName": ""},
        {"email": "x@example.com", "displayName": "X", "roles": ["Wizard"]},
        {"email": "x@example.com", "displayName": "X", "password": "short"},
    ]
    for body in cases:
        response = await client.post("/api/admin/users", headers=admin.headers, json=body)
        assert_error(response, 422, "validation_failed")
    listed = (await client.get("/api/admin/users", headers=admin.headers)).json()["items"]
    assert [u["email"] for u in listed] == ["admin@example.com"]


async def test_assigning_roles_needs_assign_roles(client: httpx.AsyncClient, admin: Caller) -> None:
    # an Operator lacks ManageUsers entirely; check the AssignRoles split with a narrowed token
    token = (
        await client.post(
            "/api/auth/tokens",
            headers=admin.headers,
            json={"name": "hr", "permissions": ["ManageUsers", "ViewUsers"]},
        )
    ).json()["token"]
    hr = {"Authorization": f"Bearer {token}"}
    bob = await add_user(client, admin, "bob@example.com", [])  # no permissions beyond hr's
    response = await client.patch(
        f"/api/admin/users/{bob.id}", headers=hr, json={"roles": ["Admin"]}
    )
    assert assert_error(response, 403, "not_authorized")["details"]["permission"] == "AssignRoles"
    renamed = await client.patch(
        f"/api/admin/users/{bob.id}", headers=hr, json={"displayName": "B"}
    )
    assert renamed.json()["displayName"] == "B"


async def test_roles_change_permissions_on_the_next_request(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bob = await add_user(client, admin, "bob@example.com", ["Viewer"])
    assert_error(
        await client.post("/api/admin/users/x/logout", headers=bob.headers), 403, "not_authorized"
    )
    await client.patch(
        f"/api/admin/users/{bob.id}", headers=admin.headers, json={"roles": ["Admin"]}
    )
    me = (await client.get("/api/auth/me", headers=bob.headers)).json()
    assert me["roles"] == ["Admin"]


async def test_force_logout_ends_all_sessions(client: httpx.AsyncClient, admin: Caller) -> None:
    bob = await add_user(client, admin, "bob@example.com")
    response = await client.post(f"/api/admin/users/{bob.id}/logout", headers=admin.headers)
    assert response.json() == {"sessionsEnded": 1}
    assert_error(await client.get("/api/auth/me", headers=bob.headers), 401, "unauthenticated")


async def test_delete_user(client: httpx.AsyncClient, admin: Caller) -> None:
    bob = await add_user(client, admin, "bob@example.com")
    assert (
        await client.delete(f"/api/admin/users/{bob.id}", headers=admin.headers)
    ).status_code == 204
    assert_error(
        await client.get(f"/api/admin/users/{bob.id}", headers=admin.headers), 404, "not_found"
    )
    assert_error(await client.get("/api/auth/me", headers=bob.headers), 401, "unauthenticated")
    assert_error(
        await client.delete(f"/api/admin/users/{admin.id}", headers=admin.headers), 409, "conflict"
    )


async def test_last_admin_cannot_be_demoted(client: httpx.AsyncClient, admin: Caller) -> None:
    bob = await add_user(client, admin, "bob@example.com", ["Admin"])
    demote_admin = await client.patch(
        f"/api/admin/users/{admin.id}", headers=bob.headers, json={"roles": ["Viewer"]}
    )
    assert demote_admin.status_code == 200
    demote_last = await client.patch(
        f"/api/admin/users/{bob.id}", headers=bob.headers, json={"roles": ["Viewer"]}
    )
    assert_error(demote_last, 409, "conflict")


async def test_builtin_roles_are_listed_and_fixed(client: httpx.AsyncClient, admin: Caller) -> None:
    roles = (await client.get("/api/admin/roles", headers=admin.headers)).json()["items"]
    names = {r["name"]: r for r in roles}
    assert {"Admin", "Operator", "Viewer"} <= set(names)
    assert names["Admin"]["builtin"] is True
    assert "ManageTenants" in names["Admin"]["permissions"]
    assert "ManageUsers" not in names["Operator"]["permissions"]
    role_id = names["Viewer"]["id"]
    got = await client.get(f"/api/admin/roles/{role_id}", headers=admin.headers)
    assert got.json()["name"] == "Viewer"


async def test_custom_roles_need_enterprise_and_licence(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        "/api/admin/roles",
        headers=admin.headers,
        json={"name": "Auditor", "permissions": ["ViewAudit"]},
    )
    error = assert_error(response, 403, "not_authorized")
    assert error["details"]["requiredTier"] == "Enterprise"


async def test_roles_tokens_and_sign_in_sessions_are_cursor_pages(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for name in ("one", "two"):
        made = await client.post("/api/auth/tokens", headers=admin.headers, json={"name": name})
        assert made.status_code == 201, made.text
    for path in ("/api/admin/roles", "/api/auth/tokens", "/api/auth/sessions"):
        whole = (await client.get(path, headers=admin.headers)).json()
        assert (whole["hasMore"], whole["nextCursor"]) == (False, None), path
        seen, cursor = [], None
        while True:
            params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(path, headers=admin.headers, params=params)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert seen == [item["id"] for item in whole["items"]], path
    roles_cursor = await client.get("/api/admin/roles", headers=admin.headers, params={"limit": 1})
    tokens = await client.get(
        "/api/auth/tokens",
        headers=admin.headers,
        params={"cursor": roles_cursor.json()["nextCursor"]},
    )
    assert_error(tokens, 400, "invalid_request")
