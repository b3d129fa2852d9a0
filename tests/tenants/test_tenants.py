"""`/api/admin/tenants`: the tenant lifecycle, membership, and what the default tenant keeps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sophon.audit.models import AuditEntry
from sophon.platform.db import Database
from sophon.settings import Settings, Tier
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user, login
from tests.tenants.tenant_helpers import TENANTS, assign, create_tenant, member_emails

AUDITOR = {"name": "Auditor", "permissions": ["ViewAudit"]}
ROLES = "/api/admin/roles"


@pytest.fixture
def gateway_overrides(enterprise: dict[str, Any]) -> dict[str, Any]:
    return enterprise


async def slugs(client: httpx.AsyncClient, root: Caller) -> list[str]:
    response = await client.get(TENANTS, headers=root.headers)
    assert response.status_code == 200, response.text
    return [t["slug"] for t in response.json()["items"]]


async def default_tenant_id(client: httpx.AsyncClient, root: Caller) -> str:
    me = (await client.get("/api/auth/me", headers=root.headers)).json()
    return str(me["tenant"]["id"])


async def test_create_get_and_list(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.post(
        TENANTS,
        headers=admin.headers,
        json={"slug": "acme", "name": "Acme Corp", "description": "Rockets"},
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["id"].startswith("tnt_")
    assert made["createdAt"].endswith("Z")
    expected = {"slug": "acme", "name": "Acme Corp", "description": "Rockets"}
    assert {k: made[k] for k in expected} == expected
    assert (made["tierOverride"], made["status"]) == (None, "Active")
    got = await client.get(f"{TENANTS}/{made['id']}", headers=admin.headers)
    assert got.json() == made
    assert await slugs(client, admin) == ["default", "acme"]
    trail = await client.get(
        "/api/admin/audit", params={"action": "tenant.create"}, headers=admin.headers
    )
    assert [e["resource"]["id"] for e in trail.json()["items"]] == [made["id"]]


async def test_duplicate_slug_is_409(client: httpx.AsyncClient, admin: Caller) -> None:
    await create_tenant(client, admin, "acme")
    for slug in ("acme", "default"):
        response = await client.post(
            TENANTS, headers=admin.headers, json={"slug": slug, "name": "X"}
        )
        assert assert_error(response, 409, "conflict")["details"] == {"slug": slug}
    assert await slugs(client, admin) == ["default", "acme"]


async def test_bad_tenant_input_is_422_and_writes_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bad_slugs = ["Acme", "-acme", "acme-", "ac_me", "ac me", "", "a" * 64, "acmé"]
    bodies: list[dict[str, Any]] = [{"slug": s, "name": "X"} for s in bad_slugs]
    bodies += [
        {"slug": "acme"},
        {"slug": "acme", "name": ""},
        {"slug": "acme", "name": "X", "tierOverride": "Platinum"},
        {"slug": "acme", "name": "X", "colour": "red"},
    ]
    for body in bodies:
        response = await client.post(TENANTS, headers=admin.headers, json=body)
        assert_error(response, 422, "validation_failed")
    assert await slugs(client, admin) == ["default"]


async def test_tier_override_lowers_the_tenants_tier(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    # The Gateway runs Enterprise (tenant routes need it), so no override can be above it; the
    # refusal of one that is (422) can't be reached through the API.
    acme = await create_tenant(client, admin, "acme", tierOverride="Pro", initialAdmin=admin.email)
    assert acme["tierOverride"] == "Pro"
    in_acme = admin.headers | {"X-Sophon-Tenant": "acme"}
    assert (await client.get("/api/auth/me", headers=in_acme)).json()["tier"] == "Pro"
    refused = await client.post("/api/admin/roles", headers=in_acme, json=AUDITOR)
    assert assert_error(refused, 403, "not_authorized")["details"]["requiredTier"] == "Enterprise"
    cleared = await client.patch(
        f"{TENANTS}/{acme['id']}", headers=admin.headers, json={"tierOverride": None}
    )
    assert cleared.json()["tierOverride"] is None
    assert (await client.get("/api/auth/me", headers=in_acme)).json()["tier"] == "Enterprise"
    made = await client.post("/api/admin/roles", headers=in_acme, json=AUDITOR)
    assert made.status_code == 201, made.text


async def test_patch_changes_only_what_is_given(client: httpx.AsyncClient, admin: Caller) -> None:
    acme = await create_tenant(client, admin, "acme", description="Rockets")
    url = f"{TENANTS}/{acme['id']}"
    renamed = await client.patch(url, headers=admin.headers, json={"name": "ACME Inc."})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["description"]) == ("ACME Inc.", "Rockets")
    suspended = await client.patch(url, headers=admin.headers, json={"status": "Suspended"})
    assert suspended.json()["status"] == "Suspended"
    for body in ({"status": "Deleted"}, {"name": ""}, {"slug": "other"}, {"tierOverride": "Gold"}):
        assert_error(
            await client.patch(url, headers=admin.headers, json=body), 422, "validation_failed"
        )
    after = (await client.get(url, headers=admin.headers)).json()
    assert (after["name"], after["status"], after["slug"]) == ("ACME Inc.", "Suspended", "acme")
    missing = await client.patch(f"{TENANTS}/tnt_nope", headers=admin.headers, json={"name": "X"})
    assert_error(missing, 404, "not_found")
    assert_error(await client.get(f"{TENANTS}/tnt_nope", headers=admin.headers), 404, "not_found")


async def test_delete_removes_the_tenant_and_what_it_owns(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    acme = await create_tenant(client, admin, "acme", initialAdmin=admin.email)
    in_acme = admin.headers | {"X-Sophon-Tenant": "acme"}
    await add_user(
        client, Caller(admin.email, admin.token, admin.user, "acme"), "wile@acme.example.com"
    )
    assert (await client.post("/api/admin/roles", headers=in_acme, json=AUDITOR)).is_success
    token = await client.post("/api/auth/tokens", headers=in_acme, json={"name": "ci"})
    deleted = await client.delete(f"{TENANTS}/{acme['id']}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert_error(
        await client.get(f"{TENANTS}/{acme['id']}", headers=admin.headers), 404, "not_found"
    )
    assert await slugs(client, admin) == ["default"]
    assert_error(await client.get("/api/auth/me", headers=in_acme), 403, "not_authorized")
    secret = {"Authorization": f"Bearer {token.json()['token']}"}
    assert_error(await client.get("/api/auth/me", headers=secret), 401, "unauthenticated")
    again = await client.delete(f"{TENANTS}/{acme['id']}", headers=admin.headers)
    assert_error(again, 404, "not_found")
    # the slug is free again, and the new tenant starts empty
    await create_tenant(client, admin, "acme", initialAdmin=admin.email)
    users = (await client.get("/api/admin/users", headers=in_acme)).json()["items"]
    assert [u["email"] for u in users] == [admin.email]
    roles = (await client.get("/api/admin/roles", headers=in_acme)).json()["items"]
    assert "Auditor" not in {r["name"] for r in roles}


async def test_the_default_tenant_cannot_be_deleted_suspended_or_lowered(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    url = f"{TENANTS}/{await default_tenant_id(client, admin)}"
    assert_error(await client.delete(url, headers=admin.headers), 409, "conflict")
    suspend = await client.patch(url, headers=admin.headers, json={"status": "Suspended"})
    assert_error(suspend, 409, "conflict")
    lower = await client.patch(url, headers=admin.headers, json={"tierOverride": "Pro"})
    assert_error(lower, 409, "conflict")  # it would lock every tenant route, this one included
    after = (await client.get(url, headers=admin.headers)).json()
    assert (after["slug"], after["status"], after["tierOverride"]) == ("default", "Active", None)
    renamed = await client.patch(url, headers=admin.headers, json={"name": "Head office"})
    assert renamed.json()["name"] == "Head office"
    assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200


async def test_members_list_and_assign(client: httpx.AsyncClient, admin: Caller) -> None:
    acme = await create_tenant(client, admin, "acme")
    bob = await add_user(client, admin, "bob@example.com")
    assert await member_emails(client, admin, acme["id"]) == []
    added = await assign(client, admin, acme["id"], "Bob@Example.com", ["Operator"])
    assert added.status_code == 201, added.text
    assert added.json() == {
        "id": bob.id,
        "email": "bob@example.com",
        "displayName": "bob",
        "status": "Active",
        "roles": ["Operator"],
    }
    carol = await add_user(client, admin, "carol@example.com")
    by_default = await client.post(
        f"{TENANTS}/{acme['id']}/users", headers=admin.headers, json={"user": carol.id}
    )
    assert by_default.json()["roles"] == ["Viewer"]
    dave = await add_user(client, admin, "dave@example.com")
    builtin = {
        r["name"]: r["id"] for r in (await client.get(ROLES, headers=admin.headers)).json()["items"]
    }
    role_ids = [builtin["Viewer"], builtin["Operator"], builtin["Viewer"]]
    by_role_id = await assign(client, admin, acme["id"], dave.id, role_ids)
    assert by_role_id.json()["roles"] == ["Operator", "Viewer"]  # names, as the list shows them
    listed = (await client.get(f"{TENANTS}/{acme['id']}/users", headers=admin.headers)).json()[
        "items"
    ]
    assert [(m["email"], m["roles"]) for m in listed] == [
        ("bob@example.com", ["Operator"]),
        ("carol@example.com", ["Viewer"]),
        ("dave@example.com", ["Operator", "Viewer"]),
    ]
    me = await client.get("/api/auth/me", headers=bob.headers | {"X-Sophon-Tenant": "acme"})
    assert me.json()["roles"] == ["Operator"]


async def test_bad_assignments_are_refused_and_write_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    acme = await create_tenant(client, admin, "acme")
    await add_user(client, admin, "bob@example.com")
    assert (await assign(client, admin, acme["id"], "bob@example.com", ["Viewer"])).is_success
    again = await assign(client, admin, acme["id"], "bob@example.com", ["Admin"])
    assert_error(again, 409, "conflict")
    nobody = await assign(client, admin, acme["id"], "nobody@example.com", ["Viewer"])
    assert_error(nobody, 404, "not_found")
    await add_user(client, admin, "carol@example.com")
    wizard = await assign(client, admin, acme["id"], "carol@example.com", ["Wizard"])
    assert_error(wizard, 422, "validation_failed")
    elsewhere = await assign(client, admin, "tnt_nope", "carol@example.com", ["Viewer"])
    assert_error(elsewhere, 404, "not_found")
    assert_error(
        await client.get(f"{TENANTS}/tnt_nope/users", headers=admin.headers), 404, "not_found"
    )
    listed = (await client.get(f"{TENANTS}/{acme['id']}/users", headers=admin.headers)).json()[
        "items"
    ]
    assert [(m["email"], m["roles"]) for m in listed] == [("bob@example.com", ["Viewer"])]


async def test_initial_admin(client: httpx.AsyncClient, admin: Caller) -> None:
    await add_user(client, admin, "boss@example.com", [])
    acme = await create_tenant(client, admin, "acme", initialAdmin="boss@example.com")
    listed = (await client.get(f"{TENANTS}/{acme['id']}/users", headers=admin.headers)).json()[
        "items"
    ]
    assert [(m["email"], m["roles"]) for m in listed] == [("boss@example.com", ["Admin"])]
    boss = await login(client, "boss@example.com", **{"X-Sophon-Tenant": "acme"})
    boss.tenant = "acme"
    made = await client.post(
        "/api/admin/users",
        headers=boss.headers,
        json={"email": "wile@acme.example.com", "displayName": "Wile", "roles": ["Viewer"]},
    )
    assert made.status_code == 201, made.text


async def test_unknown_initial_admin_is_404_and_creates_no_tenant(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        TENANTS,
        headers=admin.headers,
        json={"slug": "acme", "name": "Acme", "initialAdmin": "ghost@example.com"},
    )
    assert_error(response, 404, "not_found")
    assert await slugs(client, admin) == ["default"]


async def test_tenant_routes_need_manage_tenants(client: httpx.AsyncClient, admin: Caller) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    for response in (
        await client.get(TENANTS, headers=viewer.headers),
        await client.post(TENANTS, headers=viewer.headers, json={"slug": "acme", "name": "A"}),
    ):
        error = assert_error(response, 403, "not_authorized")
        assert error["details"] == {"permission": "ManageTenants"}
    assert await slugs(client, admin) == ["default"]


@pytest.mark.parametrize("enterprise", [["rbac", "sso"]], indirect=True)
async def test_tenant_routes_need_the_multi_tenancy_feature(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for response in (
        await client.get(TENANTS, headers=admin.headers),
        await client.post(TENANTS, headers=admin.headers, json={"slug": "acme", "name": "A"}),
    ):
        error = assert_error(response, 403, "not_authorized")
        assert error["details"]["feature"] == "multi_tenancy"


@pytest.mark.parametrize("gateway_overrides", [{"tier": Tier.PRO}])
async def test_tenant_routes_need_enterprise(client: httpx.AsyncClient, admin: Caller) -> None:
    error = assert_error(await client.get(TENANTS, headers=admin.headers), 403, "not_authorized")
    assert error["details"]["requiredTier"] == "Enterprise"


async def test_a_deleted_tenants_audit_trail_is_kept(
    client: httpx.AsyncClient, admin: Caller, settings: Settings
) -> None:
    acme = await create_tenant(client, admin, "acme", initialAdmin=admin.email)
    deleted = await client.delete(f"{TENANTS}/{acme['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    database = Database(settings.db_url)
    try:
        async with database.transaction(tenant_id=acme["id"], readonly=True) as db:
            actions = (await db.scalars(select(AuditEntry.action))).all()
    finally:
        await database.close()
    assert "tenant.user.assign" in actions  # written in acme when its admin was assigned
    log = (await client.get("/api/admin/audit?action=tenant.", headers=admin.headers)).json()
    assert "tenant.delete" in [e["action"] for e in log["items"]]
