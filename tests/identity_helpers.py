"""Signing in through the public API, for tests that need callers with given roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "correct-horse-battery"


@dataclass
class Caller:
    email: str
    token: str
    user: dict[str, Any]
    tenant: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        base = {"Authorization": f"Bearer {self.token}"}
        if self.tenant:
            base["X-Sophon-Tenant"] = self.tenant
        return base | self.extra_headers

    @property
    def id(self) -> str:
        return str(self.user["id"])


async def setup_admin(
    client: httpx.AsyncClient, data_dir: Path, email: str = "admin@example.com"
) -> Caller:
    secret = (data_dir / "setup-token").read_text().strip()
    response = await client.post(
        "/api/auth/setup",
        json={
            "setupToken": secret,
            "email": email,
            "password": PASSWORD,
            "displayName": "The Admin",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Caller(email, body["accessToken"], body["user"])


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **headers: str
) -> Caller:
    response = await client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Caller(email, body["accessToken"], body["user"])


async def add_user(
    client: httpx.AsyncClient,
    admin: Caller,
    email: str,
    roles: list[str] | None = None,
    *,
    password: str = PASSWORD,
) -> Caller:
    """Creates a member of the admin's tenant (no forced password change) and signs them in."""
    response = await client.post(
        "/api/admin/users",
        headers=admin.headers,
        json={
            "email": email,
            "displayName": email.split("@")[0],
            "password": password,
            "roles": roles if roles is not None else ["Viewer"],
            "mustChangePassword": False,
        },
    )
    assert response.status_code == 201, response.text
    caller = await login(client, email, password)
    caller.tenant = admin.tenant
    return caller
