"""An email is one address however it is written (Unicode NFKC, case-folded), and creating a user
whose email has an account in another tenant does not reveal that account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audit.audit_helpers import audit_entries
from tests.helpers import assert_error
from tests.identity_helpers import PASSWORD, Caller, add_user, login, setup_admin
from tests.tenants.tenant_helpers import create_tenant, member_emails

USERS = "/api/admin/users"
FULLWIDTH_BOB = "\uff22\uff2f\uff22@Example.com"  # "BOB" in fullwidth letters


@pytest.fixture
def gateway_overrides(enterprise: dict[str, Any]) -> dict[str, Any]:
    return enterprise


async def _create(client: httpx.AsyncClient, caller: Caller, email: str) -> httpx.Response:
    return await client.post(
        USERS, headers=caller.headers, json={"email": email, "displayName": "Someone"}
    )


async def test_look_alike_emails_are_one_account(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await add_user(client, admin, FULLWIDTH_BOB)
    assert made.user["email"] == "bob@example.com"
    for email in ("bob@example.com", "BOB@EXAMPLE.COM", FULLWIDTH_BOB):
        duplicate = await _create(client, admin, email)
        assert assert_error(duplicate, 409, "conflict")["details"] == {"email": "bob@example.com"}
        signed_in = await login(client, email)
        assert signed_in.user["id"] == made.id
    listed = (await client.get(USERS, headers=admin.headers)).json()["items"]
    assert sorted(u["email"] for u in listed) == ["admin@example.com", "bob@example.com"]


async def test_setup_stores_the_normalised_email(client: httpx.AsyncClient, data_dir: Path) -> None:
    admin = await setup_admin(client, data_dir, email="\uff21dmin@Example.COM")
    assert admin.user["email"] == "admin@example.com"
    assert (await login(client, "ADMIN@example.com")).user["id"] == admin.id


async def _acme_admin(client: httpx.AsyncClient, root: Caller) -> tuple[str, Caller]:
    """A tenant `acme` and its Admin, who is no tenant manager of the default tenant."""
    acme = await create_tenant(client, root, "acme", initialAdmin=root.email)
    created = await client.post(
        USERS,
        headers=root.headers | {"X-Sophon-Tenant": "acme"},
        json={
            "email": "boss@acme.example",
            "displayName": "Boss",
            "password": PASSWORD,
            "roles": ["Admin"],
            "mustChangePassword": False,
        },
    )
    assert created.status_code == 201, created.text
    boss = await login(client, "boss@acme.example")
    boss.tenant = "acme"
    return acme["id"], boss


async def test_an_email_of_another_tenant_is_not_revealed(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    acme_id, boss = await _acme_admin(client, admin)
    bob = await add_user(client, admin, "bob@example.com")
    fresh = await _create(client, boss, "new@acme.example")
    taken = await _create(client, boss, "Bob@Example.com")
    assert taken.status_code == fresh.status_code == 201, taken.text
    new, hidden = fresh.json(), taken.json()
    assert set(hidden) == set(new)
    assert hidden["id"] != bob.id
    assert hidden["id"].startswith("usr_")
    assert hidden["initialPassword"]
    for field in ("displayName", "status", "mustChangePassword", "roles", "lastLoginAt"):
        assert hidden[field] == new[field], field
    created = datetime.fromisoformat(hidden["createdAt"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    # nothing was written in acme, and bob's account is untouched
    acme_members = sorted(await member_emails(client, admin, acme_id))
    assert acme_members == ["admin@example.com", "boss@acme.example", "new@acme.example"]
    acme_trail = await audit_entries(client, boss, action="user.create")
    assert [e["details"]["email"] for e in acme_trail] == ["new@acme.example", "boss@acme.example"]
    assert (await login(client, "bob@example.com")).user["displayName"] == "bob"
    # the attempt is on record where bob's account lives
    home = await audit_entries(client, admin, action="user.create", outcome="refused")
    assert [(e["resource"]["id"], e["details"]["tenantId"]) for e in home] == [(bob.id, acme_id)]


async def test_a_tenant_manager_of_the_default_tenant_adds_the_existing_account(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    acme_id, boss = await _acme_admin(client, admin)
    carol = await add_user(client, boss, "carol@acme.example")
    added = await _create(client, admin, "Carol@ACME.example")
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["id"], body["initialPassword"]) == (carol.id, None)
    listed = (await client.get(USERS, headers=admin.headers)).json()["items"]
    assert "carol@acme.example" in [u["email"] for u in listed]
    assert "carol@acme.example" in await member_emails(client, admin, acme_id)
