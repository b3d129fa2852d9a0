"""Sign-in: login, setup, refresh, logout, sessions; each refusal with its exact code."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import assert_error
from tests.identity.ratelimit_helpers import LimiterClock
from tests.identity_helpers import PASSWORD, Caller, add_user, login, setup_admin


async def test_setup_creates_the_first_admin_once(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    secret_file = data_dir / "setup-token"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    secret = secret_file.read_text().strip()
    admin = await setup_admin(client, data_dir)
    assert not secret_file.exists()  # used up: deleted once setup committed
    me = (await client.get("/api/auth/me", headers=admin.headers)).json()
    assert me["roles"] == ["Admin"]
    assert "ManageUsers" in me["permissions"]
    again = await client.post(
        "/api/auth/setup",
        json={
            "setupToken": secret,
            "email": "second@example.com",
            "password": PASSWORD,
            "displayName": "Second",
        },
    )
    assert_error(again, 409, "conflict")


async def test_setup_with_a_wrong_token_is_401_and_creates_nobody(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    response = await client.post(
        "/api/auth/setup",
        json={
            "setupToken": "guess",
            "email": "mallory@example.com",
            "password": PASSWORD,
            "displayName": "M",
        },
    )
    assert_error(response, 401, "unauthenticated")
    assert (data_dir / "setup-token").exists()
    await setup_admin(client, data_dir)  # the real secret still works: nothing was created


async def test_login_returns_a_bearer_jwt_bound_to_a_session(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": "ADMIN@example.com ", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["tokenType"] == "Bearer"
    assert body["sessionId"].startswith("asn_")
    assert body["expiresAt"].endswith("Z")
    assert body["user"]["email"] == "admin@example.com"
    assert "passwordHash" not in body["user"]


async def test_unknown_email_and_wrong_password_answer_the_same(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    wrong = await client.post(
        "/api/auth/login", json={"email": admin.email, "password": "not-it-at-all"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "not-it-at-all"}
    )
    a = assert_error(wrong, 401, "unauthenticated")
    b = assert_error(unknown, 401, "unauthenticated")
    assert a["message"] == b["message"]
    assert a["details"] == b["details"]


async def test_missing_or_bad_credentials_are_401(client: httpx.AsyncClient, admin: Caller) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer sk_forged"},
    ):
        assert_error(await client.get("/api/auth/me", headers=headers), 401, "unauthenticated")


async def test_logout_revokes_the_session_on_the_next_request(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    assert (await client.post("/api/auth/logout", headers=admin.headers)).status_code == 204
    assert_error(await client.get("/api/auth/me", headers=admin.headers), 401, "unauthenticated")


async def test_refresh_issues_a_new_token_for_the_same_session(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post("/api/auth/refresh", headers=admin.headers)
    assert response.status_code == 200
    fresh = response.json()
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {fresh['accessToken']}"}
    )
    assert me.status_code == 200
    await client.post("/api/auth/logout", headers=admin.headers)
    refused = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {fresh['accessToken']}"}
    )
    assert_error(refused, 401, "unauthenticated")


async def test_sessions_lists_own_sessions_and_revokes_them(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    laptop = await login(client, admin.email, **{"User-Agent": "laptop"})
    sessions = (await client.get("/api/auth/sessions", headers=admin.headers)).json()["items"]
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1
    other = next(s for s in sessions if not s["current"])
    assert other["userAgent"] == "laptop"
    assert set(other) >= {"id", "createdAt", "lastSeenAt", "ip", "userAgent", "current"}
    response = await client.delete(f"/api/auth/sessions/{other['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert_error(await client.get("/api/auth/me", headers=laptop.headers), 401, "unauthenticated")


async def test_another_users_session_is_404(client: httpx.AsyncClient, admin: Caller) -> None:
    bob = await add_user(client, admin, "bob@example.com")
    bobs = (await client.get("/api/auth/sessions", headers=bob.headers)).json()["items"][0]["id"]
    response = await client.delete(f"/api/auth/sessions/{bobs}", headers=admin.headers)
    assert_error(response, 404, "not_found")
    assert (await client.get("/api/auth/me", headers=bob.headers)).status_code == 200


async def test_suspending_a_user_ends_their_access_at_once(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bob = await add_user(client, admin, "bob@example.com")
    token = (
        await client.post("/api/auth/tokens", headers=bob.headers, json={"name": "ci"})
    ).json()["token"]
    response = await client.patch(
        f"/api/admin/users/{bob.id}", headers=admin.headers, json={"status": "Suspended"}
    )
    assert response.status_code == 200
    assert_error(await client.get("/api/auth/me", headers=bob.headers), 401, "unauthenticated")
    by_token = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_error(by_token, 401, "unauthenticated")
    relogin = await client.post("/api/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert_error(relogin, 401, "unauthenticated")


async def test_login_body_is_validated(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"email": "a@example.com"})
    error = assert_error(response, 422, "validation_failed")
    assert error["details"]["fields"][0]["field"] == "body.password"


async def test_a_stream_of_bad_credentials_from_one_address_becomes_429(
    limiter_clock: LimiterClock, client: httpx.AsyncClient, admin: Caller
) -> None:
    guess = {"Authorization": "Bearer sk_guess"}
    for _ in range(30):
        assert_error(await client.get("/api/auth/me", headers=guess), 401, "unauthenticated")
    refused = await client.get("/api/auth/me", headers=guess)
    assert_error(refused, 429, "rate_limited")
    assert refused.headers["retry-after"] == "2"  # 30 a minute: one more every 2 s
    # only the limiter's clock refills the bucket, however long the requests took
    limiter_clock.advance(1.99)
    assert_error(await client.get("/api/auth/me", headers=guess), 429, "rate_limited")
    limiter_clock.advance(0.01)
    assert_error(await client.get("/api/auth/me", headers=guess), 401, "unauthenticated")
    assert_error(await client.get("/api/auth/me", headers=guess), 429, "rate_limited")
