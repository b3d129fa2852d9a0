"""API tokens: shown once, stored as a hash, never more than their creator, revoked at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_token_is_shown_once_and_works(client: httpx.AsyncClient, admin: Caller) -> None:
    made = await client.post("/api/auth/tokens", headers=admin.headers, json={"name": "ci"})
    assert made.status_code == 201
    body = made.json()
    assert body["token"].startswith("sk_")
    assert body["id"].startswith("tok_")
    assert body["token"].startswith(body["prefix"])
    me = await client.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.json()["authMethod"] == "token"
    listed = (await client.get("/api/auth/tokens", headers=admin.headers)).json()["items"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0]
    assert listed[0]["lastUsedAt"] is not None
    assert body["token"] not in (await client.get("/api/auth/tokens", headers=admin.headers)).text


async def test_revoked_token_fails_on_the_next_request(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    body = (await client.post("/api/auth/tokens", headers=admin.headers, json={"name": "x"})).json()
    assert (await client.get("/api/auth/me", headers=bearer(body["token"]))).status_code == 200
    revoked = await client.delete(f"/api/auth/tokens/{body['id']}", headers=admin.headers)
    assert revoked.status_code == 204
    assert_error(
        await client.get("/api/auth/me", headers=bearer(body["token"])), 401, "unauthenticated"
    )
    again = await client.delete(f"/api/auth/tokens/{body['id']}", headers=admin.headers)
    assert_error(again, 404, "not_found")


async def test_token_permissions_are_a_subset_of_the_creators(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    viewer = await add_user(client, admin, "viewer@example.com", ["Viewer"])
    escalate = await client.post(
        "/api/auth/tokens",
        headers=viewer.headers,
        json={"name": "sneaky", "permissions": ["ViewUsers", "ManageUsers"]},
    )
    error = assert_error(escalate, 403, "not_authorized")
    assert error["details"]["permission"] == "ManageUsers"
    assert (await client.get("/api/auth/tokens", headers=viewer.headers)).json()["items"] == []


async def test_unknown_permission_is_422(client: httpx.AsyncClient, admin: Caller) -> None:
    response = await client.post(
        "/api/auth/tokens", headers=admin.headers, json={"name": "x", "permissions": ["FlyPlanes"]}
    )
    assert_error(response, 422, "validation_failed")


async def test_narrowed_token_lacks_what_it_was_not_given(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    secret = (
        await client.post(
            "/api/auth/tokens",
            headers=admin.headers,
            json={"name": "read-only", "permissions": ["ViewUsers"]},
        )
    ).json()["token"]
    assert (await client.get("/api/admin/users", headers=bearer(secret))).status_code == 200
    denied = await client.post(
        "/api/admin/users",
        headers=bearer(secret),
        json={"email": "x@example.com", "displayName": "X"},
    )
    assert assert_error(denied, 403, "not_authorized")["details"]["permission"] == "ManageUsers"


async def test_expired_token_is_refused(client: httpx.AsyncClient, admin: Caller) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await client.post(
        "/api/auth/tokens", headers=admin.headers, json={"name": "old", "expiresAt": past}
    )
    assert_error(refused, 400, "invalid_request")


async def test_another_users_token_cannot_be_revoked(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bob = await add_user(client, admin, "bob@example.com")
    token = (await client.post("/api/auth/tokens", headers=bob.headers, json={"name": "b"})).json()
    response = await client.delete(f"/api/auth/tokens/{token['id']}", headers=admin.headers)
    assert_error(response, 404, "not_found")
    assert (await client.get("/api/auth/me", headers=bearer(token["token"]))).status_code == 200


async def _made(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> Any:
    made = await client.post("/api/auth/tokens", headers=headers, json=body)
    assert made.status_code == 201, made.text
    return made.json()


async def _token_names(client: httpx.AsyncClient, admin: Caller) -> list[str]:
    tokens = (await client.get("/api/auth/tokens", headers=admin.headers)).json()["items"]
    return sorted(t["name"] for t in tokens)


async def test_a_token_makes_tokens_only_within_its_own_subset(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    narrow = await _made(client, admin.headers, name="narrow", permissions=["ViewUsers"])
    # no permissions named: the making token's own set, not everything its user holds
    child = await _made(client, bearer(narrow["token"]), name="child")
    assert child["permissions"] == ["ViewUsers"]
    me = (await client.get("/api/auth/me", headers=bearer(child["token"]))).json()
    assert me["permissions"] == ["ViewUsers"]
    escalate = await client.post(
        "/api/admin/users",
        headers=bearer(child["token"]),
        json={"email": "evil@example.com", "displayName": "Evil", "roles": ["Admin"]},
    )
    assert assert_error(escalate, 403, "not_authorized")["details"]["permission"] == "ManageUsers"
    wider = await client.post(
        "/api/auth/tokens",
        headers=bearer(narrow["token"]),
        json={"name": "wider", "permissions": ["ViewUsers", "ManageUsers"]},
    )
    assert assert_error(wider, 403, "not_authorized")["details"]["permissions"] == ["ManageUsers"]
    assert await _token_names(client, admin) == ["child", "narrow"]
    users = (await client.get("/api/admin/users", headers=admin.headers)).json()["items"]
    assert [u["email"] for u in users] == [admin.email]


async def test_an_unrestricted_token_still_makes_tokens_that_follow_the_user(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    full = await _made(client, admin.headers, name="full")
    assert full["permissions"] is None
    child = await _made(client, bearer(full["token"]), name="child")
    assert child["permissions"] is None


async def test_a_token_cannot_make_one_that_outlives_it(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    parent = await _made(client, admin.headers, name="parent", expiresAt=ends.isoformat())
    child = await _made(client, bearer(parent["token"]), name="child")
    assert child["expiresAt"] == parent["expiresAt"]  # omitted: it ends with its maker
    sooner = await _made(
        client,
        bearer(parent["token"]),
        name="sooner",
        expiresAt=(ends - timedelta(minutes=30)).isoformat(),
    )
    assert sooner["expiresAt"] < parent["expiresAt"]
    later = await client.post(
        "/api/auth/tokens",
        headers=bearer(parent["token"]),
        json={"name": "later", "expiresAt": (ends + timedelta(days=1)).isoformat()},
    )
    error = assert_error(later, 403, "not_authorized")
    assert error["details"]["expiresAt"] == parent["expiresAt"]
    assert await _token_names(client, admin) == ["child", "parent", "sooner"]
