"""Making tenants and their members through the admin API, for the tenancy tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.identity_helpers import Caller

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
