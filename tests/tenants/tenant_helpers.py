"""Making tenants and their members through the admin API, for the tenancy tests."""

from __future__ import annotations

from typing import Any

import httpx

from sophon.settings import Settings, Tier
from tests.identity_helpers import Caller, add_user
from tests.license_keys import Authority

TENANTS = "/api/admin/tenants"


async def create_tenant(
    client: httpx.AsyncClient, root: Caller, slug: str, **fields: Any
) -> dict[str, Any]:
    """A new tenant made by an Admin of the default tenant; `fields` are camelCase body keys."""
    body = {"slug": slug, "name": slug.title()} | fields
    response = await client.post(TENANTS, headers=root.headers, json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def assign(
    client: httpx.AsyncClient, root: Caller, tenant_id: str, user: str, roles: list[str]
) -> httpx.Response:
    """Makes an existing user (id or email) a member of the tenant with these roles."""
    return await client.post(
        f"{TENANTS}/{tenant_id}/users", headers=root.headers, json={"user": user, "roles": roles}
    )


async def member_emails(client: httpx.AsyncClient, root: Caller, tenant_id: str) -> list[str]:
    response = await client.get(f"{TENANTS}/{tenant_id}/users", headers=root.headers)
    assert response.status_code == 200, response.text
    return [m["email"] for m in response.json()["items"]]


def enterprise_settings(settings: Settings) -> Settings:
    """The settings of an Enterprise Gateway whose licence has every feature (tenants included)."""
    authority = Authority.new()
    return settings.model_copy(
        update={
            "tier": Tier.ENTERPRISE,
            "license_public_key": authority.public_b64,
            "license_key": authority.licence(),
        }
    )


async def tenant_admin(client: httpx.AsyncClient, root: Caller, slug: str) -> Caller:
    """The Admin of a new tenant `slug`: a user `root` makes and assigns there, signed in to it."""
    tenant = await create_tenant(client, root, slug)
    admin = await add_user(client, root, f"admin@{slug}.example.com", [])
    assert (await assign(client, root, tenant["id"], admin.email, ["Admin"])).is_success
    admin.tenant = slug
    return admin
