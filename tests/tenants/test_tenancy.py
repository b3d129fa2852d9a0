"""Tenant isolation through the HTTP API: two tenants, `acme` and `globex`, each with its own
Admin, members, custom role, API token and audit trail. Nothing is listed, read, changed or
deleted across them, with the tenant named by header or by the `/api/tenants/{slug}` prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.helpers import assert_error
from tests.identity_helpers import PASSWORD, Caller, add_user, login
from tests.tenants.tenant_helpers import TENANTS, assign, create_tenant, member_emails

AUDITOR = {"name": "Auditor", "permissions": ["ViewAudit"]}


@pytest.fixture
def gateway_overrides(enterprise: dict[str, Any]) -> dict[str, Any]:
    return enterprise


class TenantApi:
    """Calls a route in a named tenant, by the `X-Sophon-Tenant` header or by the path prefix."""

    def __init__(self, client: httpx.AsyncClient, mode: str) -> None:
        self.client = client
        self.mode = mode

    async def __call__(
        self, method: str, caller: Caller | str, slug: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        secret = caller if isinstance(caller, str) else caller.token
        headers = {"Authorization": f"Bearer {secret}"}
        if self.mode == "prefix":
            path = f"/api/tenants/{slug}{path.removeprefix('/api')}"
        else:
            headers["X-Sophon-Tenant"] = slug
        return await self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def apis(client: httpx.AsyncClient) -> list[TenantApi]:
    """Both ways of naming the tenant; each test proves its point with each (one world, built
    once, keeps the file fast)."""
    return [TenantApi(client, "header"), TenantApi(client, "prefix")]


@dataclass
class Side:
    """One tenant and what lives in it."""

    slug: str
    id: str
    admin: Caller  # an Admin there, who is a member of the default tenant with no roles
    member: Caller  # a Viewer made by that Admin, a member of this tenant only
    role_id: str  # the custom role "Auditor" (both tenants have one of that name)
    token: str  # an API token the Admin made in this tenant
    token_id: str


async def build_side(client: httpx.AsyncClient, root: Caller, slug: str) -> Side:
    tenant = await create_tenant(client, root, slug)
    admin = await add_user(client, root, f"admin@{slug}.example.com", [])
    assert (await assign(client, root, tenant["id"], admin.email, ["Admin"])).is_success
    admin.tenant = slug
    member = await add_user(client, admin, f"member@{slug}.example.com", ["Viewer"])
    role = await client.post("/api/admin/roles", headers=admin.headers, json=AUDITOR)
    assert role.status_code == 201, role.text
    token = await client.post("/api/auth/tokens", headers=admin.headers, json={"name": slug})
    assert token.status_code == 201, token.text
    return Side(
        slug, tenant["id"], admin, member, role.json()["id"], token.json()["token"],
        token.json()["id"],
    )  # fmt: skip


@dataclass
class World:
    root: Caller
    acme: Side
    globex: Side

    def pairs(self) -> list[tuple[Side, Side]]:
        return [(self.acme, self.globex), (self.globex, self.acme)]


@pytest.fixture
async def world(client: httpx.AsyncClient, admin: Caller) -> World:
    return World(
        admin, await build_side(client, admin, "acme"), await build_side(client, admin, "globex")
    )


async def test_lists_show_only_the_tenants_own_objects(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    for api in apis:
        for side, other in world.pairs():
            admin, slug = side.admin, side.slug
            users = (await api("GET", admin, slug, "/api/admin/users")).json()["items"]
            assert sorted(u["email"] for u in users) == sorted([admin.email, side.member.email])
            roles = (await api("GET", admin, slug, "/api/admin/roles")).json()["items"]
            assert [r["id"] for r in roles if not r["builtin"]] == [side.role_id]
            tokens = (await api("GET", admin, slug, "/api/auth/tokens")).json()["items"]
            assert [t["id"] for t in tokens] == [side.token_id]
            trail = await api("GET", admin, slug, "/api/admin/audit", params={"limit": 200})
            entries = trail.json()["items"]
            resources = {e["resource"]["id"] for e in entries}
            assert {side.role_id, side.member.id, side.token_id} <= resources
            assert not {other.role_id, other.member.id, other.token_id} & resources
            assert other.id not in {e["actor"]["tenantId"] for e in entries}
            page = await api("GET", admin, slug, "/api/admin/users", params={"limit": 1})
            crossed = await api(
                "GET", other.admin, other.slug, "/api/admin/users",
                params={"cursor": page.json()["nextCursor"]},
            )  # fmt: skip
            assert_error(crossed, 400, "invalid_request")  # a cursor is bound to its list
    for side in (world.acme, world.globex):
        emails = await member_emails(client, world.root, side.id)
        assert sorted(emails) == sorted([side.admin.email, side.member.email])


async def test_agent_lists_show_only_the_tenants_own_agents(
    apis: list[TenantApi], world: World
) -> None:
    made = {}
    for side in (world.acme, world.globex):
        body = {"name": f"{side.slug} researcher"}
        response = await apis[0]("POST", side.admin, side.slug, "/api/agents", json=body)
        assert response.status_code == 201, response.text
        made[side.slug] = response.json()["id"]
    for api in apis:
        for side, other in world.pairs():
            listed = await api("GET", side.admin, side.slug, "/api/agents", params={"limit": 1})
            assert [a["id"] for a in listed.json()["items"]] == [made[side.slug]]
            rest = await api(
                "GET", side.admin, side.slug, "/api/agents",
                params={"cursor": listed.json()["nextCursor"]},
            )  # fmt: skip
            assert [a["name"] for a in rest.json()["items"]] == ["default"]
            assert rest.json()["items"][0]["id"] != made[other.slug]
            crossed = await api(
                "GET", other.admin, other.slug, "/api/agents",
                params={"cursor": listed.json()["nextCursor"]},
            )  # fmt: skip
            assert_error(crossed, 400, "invalid_request")  # a cursor is bound to its list


async def test_another_tenants_user_is_404_and_unchanged(
    apis: list[TenantApi], world: World
) -> None:
    attempts = [
        ("GET", "", None),
        ("PATCH", "", {"displayName": "pwned"}),
        ("PATCH", "", {"status": "Suspended"}),
        ("DELETE", "", None),
        ("POST", "/logout", None),
    ]
    for api in apis:
        for side, other in world.pairs():
            url = f"/api/admin/users/{other.member.id}"
            for method, suffix, body in [*attempts, ("PATCH", "", {"roles": [side.role_id]})]:
                response = await api(method, side.admin, side.slug, url + suffix, json=body)
                assert_error(response, 404, "not_found")
            seen = (await api("GET", other.admin, other.slug, url)).json()
            assert (seen["displayName"], seen["status"], seen["roles"]) == (
                "member",
                "Active",
                ["Viewer"],
            )
            me = await api("GET", other.member, other.slug, "/api/auth/me")
            assert me.status_code == 200, me.text  # still signed in: no logout crossed over


async def test_another_tenants_role_is_404_and_unchanged(
    apis: list[TenantApi], world: World
) -> None:
    for api in apis:
        for side, other in world.pairs():
            url = f"/api/admin/roles/{other.role_id}"
            for method, body in (("GET", None), ("PATCH", {"name": "Pwned"}), ("DELETE", None)):
                response = await api(method, side.admin, side.slug, url, json=body)
                assert_error(response, 404, "not_found")
            seen = (await api("GET", other.admin, other.slug, url)).json()
            assert (seen["name"], seen["permissions"]) == ("Auditor", ["ViewAudit"])


async def test_another_tenants_role_cannot_be_assigned(apis: list[TenantApi], world: World) -> None:
    acme, globex = world.acme, world.globex
    foreign = {"roles": [globex.role_id]}
    new_user = {"email": "x@acme.example.com", "displayName": "X"} | foreign
    for api in apis:
        url = f"/api/admin/users/{acme.member.id}"
        assert_error(
            await api("PATCH", acme.admin, "acme", url, json=foreign), 422, "validation_failed"
        )
        made = await api("POST", acme.admin, "acme", "/api/admin/users", json=new_user)
        assert_error(made, 422, "validation_failed")
        assert (await api("GET", acme.admin, "acme", url)).json()["roles"] == ["Viewer"]


async def test_non_members_and_unknown_tenants_are_refused(
    apis: list[TenantApi], world: World
) -> None:
    acme, globex = world.acme, world.globex
    refused = [
        (acme.member, "globex"),
        (acme.admin, "globex"),
        (world.root, "acme"),
        (globex.member, "nowhere"),
    ]
    for api in apis:
        for caller, slug in refused:
            for path in ("/api/auth/me", "/api/admin/users"):
                error = assert_error(await api("GET", caller, slug, path), 403, "not_authorized")
                assert error["details"]["tenant"] == slug


async def test_an_api_token_is_bound_to_its_tenant(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    acme, globex = world.acme, world.globex
    assert (await assign(client, world.root, globex.id, acme.admin.email, ["Viewer"])).is_success
    for api in apis:
        refused = await api("GET", acme.token, "globex", "/api/auth/me")
        assert assert_error(refused, 403, "not_authorized")["details"]["tenant"] == "globex"
        with_jwt = await api("GET", acme.admin, "globex", "/api/auth/me")
        assert with_jwt.json()["tenant"]["slug"] == "globex"
        in_acme = await api("GET", acme.token, "acme", "/api/admin/users")
        assert in_acme.status_code == 200, in_acme.text
    unnamed = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {acme.token}"})
    assert unnamed.json()["tenant"]["slug"] == "acme"


async def test_token_lists_and_revocation_stay_in_their_tenant(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    acme, globex = world.acme, world.globex
    assert (await assign(client, world.root, globex.id, acme.admin.email, ["Admin"])).is_success
    for api in apis:
        listed = (await api("GET", acme.admin, "globex", "/api/auth/tokens")).json()["items"]
        assert listed == []
        revoke = await api("DELETE", acme.admin, "globex", f"/api/auth/tokens/{acme.token_id}")
        assert_error(revoke, 404, "not_found")
    still = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {acme.token}"})
    assert still.status_code == 200


async def test_suspending_a_shared_member_stays_in_the_tenant(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    acme, globex = world.acme, world.globex
    assert (await assign(client, world.root, acme.id, globex.member.email, ["Viewer"])).is_success
    url = f"/api/admin/users/{globex.member.id}"
    suspended = await apis[0]("PATCH", acme.admin, "acme", url, json={"status": "Suspended"})
    assert suspended.status_code == 200, suspended.text
    assert (await apis[0]("GET", globex.member, "globex", "/api/auth/me")).status_code == 200
    seen = (await apis[0]("GET", globex.admin, "globex", url)).json()
    assert seen["status"] == "Active"


async def test_me_shows_the_named_tenant_and_the_roles_there(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    acme, globex = world.acme, world.globex
    assert (await assign(client, world.root, acme.id, globex.member.email, ["Operator"])).is_success
    expected = [("globex", globex.id, ["Viewer"]), ("acme", acme.id, ["Operator"])]
    for api in apis:
        for slug, tenant_id, roles in expected:
            me = (await api("GET", globex.member, slug, "/api/auth/me")).json()
            assert (me["tenant"]["slug"], me["tenant"]["id"]) == (slug, tenant_id)
            assert me["roles"] == me["tenant"]["roles"] == roles
            assert sorted(t["slug"] for t in me["tenants"]) == ["acme", "globex"]
    prefix_and_header = await client.get(
        "/api/tenants/acme/auth/me", headers=globex.member.headers | {"X-Sophon-Tenant": "globex"}
    )
    assert prefix_and_header.json()["tenant"]["slug"] == "acme"  # the prefix wins
    signed_in = await login(client, globex.member.email, PASSWORD)
    unnamed = await client.get("/api/auth/me", headers=signed_in.headers)
    assert unnamed.json()["tenant"]["slug"] == "globex"  # made there, so signs in there


async def test_tenants_are_managed_from_the_default_tenant_only(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    admin, acme_id = world.globex.admin, world.acme.id
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", TENANTS, None),
        ("POST", TENANTS, {"slug": "initech", "name": "Initech"}),
        ("GET", f"{TENANTS}/{acme_id}", None),
        ("PATCH", f"{TENANTS}/{acme_id}", {"status": "Suspended"}),
        ("DELETE", f"{TENANTS}/{acme_id}", None),
        ("GET", f"{TENANTS}/{acme_id}/users", None),
        ("POST", f"{TENANTS}/{acme_id}/users", {"user": admin.email, "roles": ["Admin"]}),
    ]
    for api in apis:
        for method, path, body in attempts:
            response = await api(method, admin, "globex", path, json=body)
            assert assert_error(response, 403, "not_authorized")["details"]["tenant"] == "globex"
    listed = (await client.get(TENANTS, headers=world.root.headers)).json()["items"]
    assert [(t["slug"], t["status"]) for t in listed] == [
        ("default", "Active"),
        ("acme", "Active"),
        ("globex", "Active"),
    ]
    assert admin.email not in await member_emails(client, world.root, acme_id)


async def test_a_suspended_tenant_refuses_its_members(
    apis: list[TenantApi], client: httpx.AsyncClient, world: World
) -> None:
    acme, globex = world.acme, world.globex
    url, root = f"{TENANTS}/{acme.id}", world.root.headers
    assert (await client.patch(url, headers=root, json={"status": "Suspended"})).is_success
    for api in apis:
        for caller in (acme.admin, acme.member, acme.token):
            assert_error(await api("GET", caller, "acme", "/api/auth/me"), 403, "not_authorized")
        assert (await api("GET", globex.admin, "globex", "/api/admin/users")).status_code == 200
    own_session = {"Authorization": f"Bearer {acme.member.token}"}  # bound to acme
    assert_error(await client.get("/api/auth/me", headers=own_session), 403, "not_authorized")
    assert (await client.patch(url, headers=root, json={"status": "Active"})).is_success
    for api in apis:
        assert (await api("GET", acme.member, "acme", "/api/auth/me")).status_code == 200
