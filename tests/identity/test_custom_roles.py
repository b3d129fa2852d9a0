"""Custom roles on an Enterprise Gateway licensed for `rbac`; the built-ins stay fixed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user

ROLES = "/api/admin/roles"


@pytest.fixture
def gateway_overrides(enterprise: dict[str, Any]) -> dict[str, Any]:
    return enterprise


async def _role(client: httpx.AsyncClient, admin: Caller, **body: Any) -> httpx.Response:
    return await client.post(ROLES, headers=admin.headers, json=body)


async def _custom_names(client: httpx.AsyncClient, admin: Caller) -> list[str]:
    roles = (await client.get(ROLES, headers=admin.headers)).json()["items"]
    return sorted(r["name"] for r in roles if not r["builtin"])


async def test_a_custom_role_grants_exactly_its_permissions(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await _role(client, admin, name="Auditor", permissions=["ViewAudit", "ViewAudit"])
    assert made.status_code == 201
    assert made.json()["permissions"] == ["ViewAudit"]
    carol = await add_user(client, admin, "carol@example.com", ["Auditor"])
    assert (await client.get("/api/admin/audit", headers=carol.headers)).status_code == 200
    denied = await client.get("/api/admin/users", headers=carol.headers)
    assert assert_error(denied, 403, "not_authorized")["details"]["permission"] == "ViewUsers"
    edited = await client.patch(
        f"{ROLES}/{made.json()['id']}",
        headers=admin.headers,
        json={"permissions": ["ViewAudit", "ViewUsers"]},
    )
    assert edited.json()["permissions"] == ["ViewAudit", "ViewUsers"]
    assert (await client.get("/api/admin/users", headers=carol.headers)).status_code == 200


async def test_bad_roles_are_refused_and_write_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    unknown = await _role(client, admin, name="Pilot", permissions=["FlyPlanes", "ViewAudit"])
    error = assert_error(unknown, 422, "validation_failed")
    assert error["details"] == {"permissions": ["FlyPlanes"]}
    assert_error(await _role(client, admin, name="", permissions=[]), 422, "validation_failed")
    assert_error(await _role(client, admin, name="Admin", permissions=[]), 409, "conflict")
    assert (await _role(client, admin, name="Auditor", permissions=["ViewAudit"])).is_success
    assert_error(await _role(client, admin, name="Auditor", permissions=[]), 409, "conflict")
    assert await _custom_names(client, admin) == ["Auditor"]


async def test_built_in_roles_cannot_be_edited_or_deleted(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    roles = {
        r["name"]: r["id"] for r in (await client.get(ROLES, headers=admin.headers)).json()["items"]
    }
    for name in ("Admin", "Operator", "Viewer"):
        url = f"{ROLES}/{roles[name]}"
        patched = await client.patch(url, headers=admin.headers, json={"permissions": []})
        assert_error(patched, 409, "conflict")
        assert_error(await client.delete(url, headers=admin.headers), 409, "conflict")
    admin_role = (await client.get(f"{ROLES}/{roles['Admin']}", headers=admin.headers)).json()
    assert "ManageRoles" in admin_role["permissions"]


async def test_a_role_in_use_cannot_be_deleted_until_unassigned(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    role = (await _role(client, admin, name="Auditor", permissions=["ViewAudit"])).json()
    carol = await add_user(client, admin, "carol@example.com", ["Auditor"])
    url = f"{ROLES}/{role['id']}"
    assert_error(await client.delete(url, headers=admin.headers), 409, "conflict")
    await client.patch(
        f"/api/admin/users/{carol.id}", headers=admin.headers, json={"roles": ["Viewer"]}
    )
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert_error(await client.get(url, headers=admin.headers), 404, "not_found")
    assert await _custom_names(client, admin) == []


async def test_managing_roles_needs_manage_roles(client: httpx.AsyncClient, admin: Caller) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    response = await client.post(
        ROLES, headers=viewer.headers, json={"name": "Mine", "permissions": ["ViewUsers"]}
    )
    assert assert_error(response, 403, "not_authorized")["details"]["permission"] == "ManageRoles"


async def test_the_last_active_admin_cannot_be_suspended_or_deleted(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    roles = (await client.get(ROLES, headers=admin.headers)).json()["items"]
    everything = [r["permissions"] for r in roles]
    role = await _role(client, admin, name="Deputy", permissions=max(everything, key=len))
    assert role.status_code == 201, role.text
    deputy = await add_user(client, admin, "deputy@example.com", ["Deputy"])
    url = f"/api/admin/users/{admin.id}"
    for response in (
        await client.patch(url, headers=deputy.headers, json={"status": "Suspended"}),
        await client.delete(url, headers=deputy.headers),
        await client.patch(url, headers=deputy.headers, json={"roles": ["Deputy"]}),
    ):
        assert assert_error(response, 409, "conflict")["details"] == {"reason": "last_admin"}
    kept = (await client.get(url, headers=admin.headers)).json()
    assert (kept["status"], kept["roles"]) == ("Active", ["Admin"])
