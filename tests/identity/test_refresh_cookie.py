"""The Dashboard's refresh cookie: set on request only, httpOnly, SameSite=Strict and scoped to
its endpoint; refused without the CSRF header, from another origin, after logout, and never
interchangeable with an access token. Plus the public setup status the Dashboard starts with."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import assert_error
from tests.identity_helpers import PASSWORD, setup_admin

KEEP = {"X-Sophon-Refresh": "cookie"}
CSRF = {"X-Sophon-CSRF": "1"}
REFRESH = "/api/auth/refresh/cookie"


async def _sign_in(client: httpx.AsyncClient, data_dir: Path) -> httpx.Response:
    admin = await setup_admin(client, data_dir)
    client.cookies.clear()
    return await client.post(
        "/api/auth/login", json={"email": admin.email, "password": PASSWORD}, headers=KEEP
    )


async def test_setup_status_says_when_setup_is_due(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    before = await client.get("/api/auth/setup")
    assert before.json() == {"required": True, "autoAdmin": False}
    await setup_admin(client, data_dir)
    assert (await client.get("/api/auth/setup")).json() == {"required": False, "autoAdmin": False}


async def test_login_sets_the_cookie_only_when_asked(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    admin = await setup_admin(client, data_dir)
    assert "set-cookie" not in (await client.post(
        "/api/auth/login", json={"email": admin.email, "password": PASSWORD}
    )).headers  # fmt: skip
    response = await client.post(
        "/api/auth/login", json={"email": admin.email, "password": PASSWORD}, headers=KEEP
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sophon_refresh=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "expires"} <= attributes
    assert "Path=/api/auth/refresh/cookie" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "secure" not in attributes  # plain HTTP on loopback; Secure over TLS


async def test_the_cookie_refreshes_until_logout(client: httpx.AsyncClient, data_dir: Path) -> None:
    login = await _sign_in(client, data_dir)
    refreshed = await client.post(REFRESH, headers=CSRF)
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["accessToken"]
    assert refreshed.json()["sessionId"] == login.json()["sessionId"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    out = await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    assert 'sophon_refresh=""' in out.headers["set-cookie"]
    assert "Max-Age=0" in out.headers["set-cookie"]
    client.cookies.set("sophon_refresh", login.cookies["sophon_refresh"])  # a kept copy
    assert_error(await client.post(REFRESH, headers=CSRF), 401, "unauthenticated")


async def test_refusals(client: httpx.AsyncClient, data_dir: Path) -> None:
    login = await _sign_in(client, data_dir)
    cookie = login.cookies["sophon_refresh"]
    access = login.json()["accessToken"]
    no_csrf = await client.post(REFRESH)
    assert_error(no_csrf, 403, "not_authorized")
    assert no_csrf.json()["error"]["details"] == {"reason": "csrf"}
    foreign = await client.post(REFRESH, headers={**CSRF, "Origin": "https://evil.example"})
    assert_error(foreign, 403, "not_authorized")
    same = await client.post(REFRESH, headers={**CSRF, "Origin": "http://testserver"})
    assert same.status_code == 200
    # the cookie is no bearer token, and an access token is no cookie
    as_bearer = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {cookie}"})
    assert_error(as_bearer, 401, "unauthenticated")
    client.cookies.clear()
    assert_error(await client.post(REFRESH, headers=CSRF), 401, "unauthenticated")
    client.cookies.set("sophon_refresh", access)
    assert_error(await client.post(REFRESH, headers=CSRF), 401, "unauthenticated")
