"""The audit trail: every identity mutation and auth event leaves one entry, in the same
transaction as the change, and the filters and cursor pages that read it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from sophon.settings import Settings, Tier
from tests.audit.audit_helpers import (
    AUDIT,
    assert_entry,
    audit_entries,
    written_by,
)
from tests.conftest import FakeClock
from tests.helpers import assert_error
from tests.identity_helpers import PASSWORD, Caller, add_user, login
from tests.license_keys import Authority


@pytest.fixture
def licence_authority() -> Authority:
    return Authority.new()


@pytest.fixture
def settings(settings: Settings, licence_authority: Authority) -> Settings:
    """Enterprise, so custom roles (and their audit entries) are reachable once licensed."""
    return settings.model_copy(
        update={"tier": Tier.ENTERPRISE, "license_public_key": licence_authority.public_b64}
    )


def with_token(caller: Caller, token: str) -> Caller:
    """The same user calling with another access token."""
    return Caller(caller.email, token, caller.user)


async def test_setup_is_audited(client: httpx.AsyncClient, data_dir: Path) -> None:
    secret = (data_dir / "setup-token").read_text().strip()
    body = {"setupToken": secret, "email": "first@example.com", "password": PASSWORD}
    response = await client.post("/api/auth/setup", json=body | {"displayName": "First"})
    assert response.status_code == 201, response.text
    admin = Caller("first@example.com", response.json()["accessToken"], response.json()["user"])
    entry = written_by(await audit_entries(client, admin), response, "auth.setup")
    assert_entry(entry, actor=admin, resource=("user", admin.id))
    assert entry["actor"]["role"] == "Admin"


async def test_auth_events_are_audited(client: httpx.AsyncClient, admin: Caller) -> None:
    signed_in = await client.post(
        "/api/auth/login", json={"email": admin.email, "password": PASSWORD}
    )
    session_id = signed_in.json()["sessionId"]
    caller = with_token(admin, signed_in.json()["accessToken"])
    refreshed = await client.post("/api/auth/refresh", headers=caller.headers)
    caller = with_token(admin, refreshed.json()["accessToken"])
    created = await client.post("/api/auth/tokens", headers=caller.headers, json={"name": "ci"})
    token = created.json()
    used = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token['token']}"})
    revoked = await client.delete(f"/api/auth/tokens/{token['id']}", headers=caller.headers)
    changed = await client.post(
        "/api/auth/password",
        headers=caller.headers,
        json={"currentPassword": PASSWORD, "newPassword": "another-long-secret"},
    )
    logged_out = await client.post("/api/auth/logout", headers=caller.headers)
    responses = (signed_in, refreshed, created, used, revoked, changed, logged_out)
    assert [r.status_code for r in responses] == [200, 200, 201, 200, 204, 204, 204]

    reader = await login(client, admin.email, "another-long-secret")  # the others were ended
    entries = await audit_entries(client, reader)
    expected = [
        (signed_in, "auth.login", ("session", session_id)),
        (refreshed, "auth.refresh", ("session", session_id)),
        (created, "auth.token.create", ("token", token["id"])),
        (used, "auth.token.use", ("token", token["id"])),
        (revoked, "auth.token.revoke", ("token", token["id"])),
        (changed, "auth.password.change", ("user", admin.id)),
        (logged_out, "auth.logout", ("session", session_id)),
    ]
    for response, action, resource in expected:
        assert_entry(written_by(entries, response, action), actor=admin, resource=resource)
    assert written_by(entries, created, "auth.token.create")["details"] == {"name": "ci"}
    assert written_by(entries, changed, "auth.password.change")["actor"]["role"] == "Admin"


async def test_a_successful_login_names_the_actors_role(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    signed_in = await client.post(
        "/api/auth/login", json={"email": admin.email, "password": PASSWORD}
    )
    entry = written_by(await audit_entries(client, admin), signed_in, "auth.login")
    assert entry["actor"]["role"] == "Admin"


async def test_a_failed_login_is_audited_although_the_request_failed(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    wrong = await client.post("/api/auth/login", json={"email": admin.email, "password": "nope"})
    unknown = await client.post(
        "/api/auth/login", json={"email": "ghost@example.com", "password": "nope"}
    )
    assert_error(wrong, 401, "unauthenticated")
    assert_error(unknown, 401, "unauthenticated")
    failures = await audit_entries(client, admin, outcome="failure")
    for response, email in ((wrong, admin.email), (unknown, "ghost@example.com")):
        entry = written_by(failures, response, "auth.login")
        assert_entry(entry, actor=None, resource=(None, None), outcome="failure")
        assert entry["actor"]["email"] == email
        assert entry["actor"]["userId"] is None
        assert entry["details"] == {"reason": "bad credentials"}
    assert len(failures) == 2


async def test_user_administration_is_audited(client: httpx.AsyncClient, admin: Caller) -> None:
    created = await client.post(
        "/api/admin/users",
        headers=admin.headers,
        json={"email": "carol@example.com", "displayName": "Carol", "roles": ["Viewer"]},
    )
    carol = created.json()["id"]
    renamed = await client.patch(
        f"/api/admin/users/{carol}", headers=admin.headers, json={"displayName": "Caroline"}
    )
    suspended = await client.patch(
        f"/api/admin/users/{carol}", headers=admin.headers, json={"status": "Suspended"}
    )
    reactivated = await client.patch(
        f"/api/admin/users/{carol}", headers=admin.headers, json={"status": "Active"}
    )
    ended = await client.post(f"/api/admin/users/{carol}/logout", headers=admin.headers)
    deleted = await client.delete(f"/api/admin/users/{carol}", headers=admin.headers)
    responses = (created, renamed, suspended, reactivated, ended, deleted)
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 204]

    entries = await audit_entries(client, admin, resourceType="user", resourceId=carol)
    actions = ["user.create", "user.update", "user.suspend", "user.reactivate", "user.logout"]
    actions.append("user.delete")
    assert [e["action"] for e in entries] == actions[::-1]
    for response, action in zip(responses, actions, strict=True):
        entry = written_by(entries, response, action)
        assert_entry(entry, actor=admin, resource=("user", carol))
        assert entry["actor"]["role"] == "Admin"
    assert written_by(entries, renamed, "user.update")["details"] == {"displayName": "Caroline"}
    assert written_by(entries, suspended, "user.suspend")["details"] == {"status": "Suspended"}


async def test_a_refused_mutation_leaves_no_entry(client: httpx.AsyncClient, admin: Caller) -> None:
    body = {"email": "dup@example.com", "displayName": "Dup", "roles": ["Viewer"]}
    assert (
        await client.post("/api/admin/users", headers=admin.headers, json=body)
    ).status_code == 201
    again = await client.post("/api/admin/users", headers=admin.headers, json=body)
    assert_error(again, 409, "conflict")
    entries = await audit_entries(client, admin, action="user.create")
    assert len(entries) == 1
    assert again.headers["x-sophon-request-id"] not in {e["requestId"] for e in entries}


async def test_licence_and_role_actions_are_audited(
    client: httpx.AsyncClient, admin: Caller, licence_authority: Authority
) -> None:
    key = licence_authority.licence(features=["rbac"], license_id="lic_audit")
    installed = await client.post("/api/admin/license", headers=admin.headers, json={"key": key})
    made = await client.post(
        "/api/admin/roles",
        headers=admin.headers,
        json={"name": "Auditor", "description": "Reads", "permissions": ["ViewAudit"]},
    )
    role = made.json()["id"]
    edited = await client.patch(
        f"/api/admin/roles/{role}", headers=admin.headers, json={"description": "Reads audit"}
    )
    removed = await client.delete(f"/api/admin/roles/{role}", headers=admin.headers)
    assert [r.status_code for r in (installed, made, edited, removed)] == [200, 201, 200, 204]

    entries = await audit_entries(client, admin)
    licence = written_by(entries, installed, "license.install")
    assert_entry(licence, actor=admin, resource=("license", "lic_audit"))
    assert licence["details"]["tier"] == "Enterprise"
    for response, action in (
        (made, "role.create"),
        (edited, "role.update"),
        (removed, "role.delete"),
    ):
        assert_entry(written_by(entries, response, action), actor=admin, resource=("role", role))
    assert written_by(entries, made, "role.create")["details"] == {"name": "Auditor"}


async def test_filters_by_actor_action_resource_and_outcome(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bob = await add_user(client, admin, "bob@example.com")
    token = await client.post("/api/auth/tokens", headers=bob.headers, json={"name": "b"})
    token_id = token.json()["id"]
    await client.post("/api/auth/login", json={"email": bob.email, "password": "wrong"})
    everything = await audit_entries(client, admin)

    by_bob = [e for e in everything if e["actor"]["userId"] == bob.id]
    assert {e["action"] for e in by_bob} == {"auth.login", "auth.token.create"}
    assert await audit_entries(client, admin, actor=bob.id) == by_bob
    by_email = await audit_entries(client, admin, actor=bob.email)
    assert by_email == [e for e in everything if e["actor"]["email"] == bob.email]
    assert len(by_email) == len(by_bob) + 1  # the failed login carries only the email
    assert await audit_entries(client, admin, actor=" BOB@Example.com") == by_email

    auth = await audit_entries(client, admin, action="auth.")
    assert auth == [e for e in everything if e["action"].startswith("auth.")]
    assert {e["action"] for e in auth} == {"auth.setup", "auth.login", "auth.token.create"}
    assert await audit_entries(client, admin, action="user.create") == [
        e for e in everything if e["action"] == "user.create"
    ]
    assert await audit_entries(client, admin, action="auth.tok") == await audit_entries(
        client, admin, action="auth.token.create"
    )
    assert await audit_entries(client, admin, action="user.%") == []  # no SQL wildcards

    tokens = await audit_entries(client, admin, resourceType="token")
    assert [e["resource"]["id"] for e in tokens] == [token_id]
    assert await audit_entries(client, admin, resourceId=token_id) == tokens
    assert await audit_entries(client, admin, resourceType="user", resourceId=token_id) == []

    failed = await audit_entries(client, admin, outcome="failure")
    assert [(e["action"], e["actor"]["email"]) for e in failed] == [("auth.login", bob.email)]
    successes = await audit_entries(client, admin, outcome="success")
    assert len(successes) + len(failed) == len(everything)


async def test_since_and_until(client: httpx.AsyncClient, admin: Caller, clock: FakeClock) -> None:
    for minute in range(3):
        created = await client.post(
            "/api/auth/tokens", headers=admin.headers, json={"name": f"{minute}"}
        )
        assert created.status_code == 201
        clock.advance(minutes=5)
    made = await audit_entries(client, admin, action="auth.token.create")
    assert [e["details"]["name"] for e in made] == ["2", "1", "0"]
    middle = made[1]["timestamp"]
    moment = datetime.fromisoformat(middle)

    def names(entries: list[Any]) -> list[str]:
        return [e["details"]["name"] for e in entries if e["action"] == "auth.token.create"]

    assert names(await audit_entries(client, admin, since=middle)) == ["2", "1"]
    assert names(await audit_entries(client, admin, until=middle)) == ["0"]
    assert names(await audit_entries(client, admin, since=middle, until=made[0]["timestamp"])) == [
        "1"
    ]
    later = (moment + timedelta(minutes=1)).isoformat()
    assert names(await audit_entries(client, admin, since=later)) == ["2"]
    earlier = (moment - timedelta(minutes=1)).isoformat()
    assert names(await audit_entries(client, admin, since=earlier, until=later)) == ["1"]
    naive = middle.removesuffix("Z")  # a time without a zone is UTC
    assert names(await audit_entries(client, admin, since=naive)) == ["2", "1"]
    shifted = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert names(await audit_entries(client, admin, until=shifted)) == ["0"]
    bad = await client.get(AUDIT, headers=admin.headers, params={"since": "yesterday"})
    assert_error(bad, 422, "validation_failed")


async def test_cursor_pages_walk_the_trail_newest_first(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    for index in range(6):
        await client.post("/api/auth/tokens", headers=admin.headers, json={"name": f"t{index}"})
    everything = await audit_entries(client, admin)
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True)

    async def walk(**params: Any) -> list[Any]:
        seen: list[Any] = []
        cursor = None
        while True:
            query = {"limit": 3, **params} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(AUDIT, headers=admin.headers, params=query)).json()
            seen += page["items"]
            assert page["hasMore"] is (page["nextCursor"] is not None)
            if not page["hasMore"]:
                return seen
            assert len(page["items"]) == 3
            cursor = page["nextCursor"]

    assert await walk() == everything
    filtered = await walk(action="auth.token.create")
    assert [e["details"]["name"] for e in filtered] == [f"t{i}" for i in range(5, -1, -1)]
    forged = await client.get(AUDIT, headers=admin.headers, params={"cursor": "abc.def"})
    assert_error(forged, 400, "invalid_request")
