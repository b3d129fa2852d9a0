"""Idle timeout, absolute lifetime and JWT lifetime, on the Gateway's clock (no waiting)."""

from __future__ import annotations

import httpx

from sophon.app import create_app
from sophon.settings import Settings
from tests.conftest import FakeClock, serve_in_process
from tests.helpers import assert_error
from tests.identity_helpers import Caller, login, setup_admin


async def test_idle_session_is_refused_and_activity_keeps_it_alive(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock
) -> None:
    session = await login(client, admin.email)
    for _ in range(3):  # 75 minutes of activity, never 30 idle
        clock.advance(minutes=25)
        assert (await client.get("/api/auth/me", headers=session.headers)).status_code == 200
        refreshed = await client.post("/api/auth/refresh", headers=session.headers)
        session = Caller(admin.email, refreshed.json()["accessToken"], admin.user)
    clock.advance(minutes=31)
    assert_error(await client.get("/api/auth/me", headers=session.headers), 401, "unauthenticated")


async def test_refresh_extends_the_idle_timer(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock
) -> None:
    session = await login(client, admin.email)
    clock.advance(minutes=29)
    refreshed = await client.post("/api/auth/refresh", headers=session.headers)
    assert refreshed.status_code == 200
    token = refreshed.json()["accessToken"]
    clock.advance(minutes=29)
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


async def test_access_token_expires_after_its_lifetime(
    client: httpx.AsyncClient, admin: Caller, clock: FakeClock
) -> None:
    session = await login(client, admin.email)
    for _ in range(3):  # stay active so only the token's own 60 minutes run out
        clock.advance(minutes=19)
        assert (await client.get("/api/auth/me", headers=session.headers)).status_code == 200
    clock.advance(minutes=4)
    assert_error(await client.get("/api/auth/me", headers=session.headers), 401, "unauthenticated")


async def test_session_ends_at_its_absolute_lifetime(settings: Settings, clock: FakeClock) -> None:
    lasting = settings.model_copy(
        update={"session_idle_minutes": 30 * 24 * 60, "access_token_minutes": 30 * 24 * 60}
    )
    async with serve_in_process(create_app(lasting)) as client:
        admin = await setup_admin(client, lasting.data)
        clock.advance(days=7, minutes=-1)
        assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200
        clock.advance(minutes=2)
        response = await client.get("/api/auth/me", headers=admin.headers)
        assert_error(response, 401, "unauthenticated")
        assert_error(
            await client.post("/api/auth/refresh", headers=admin.headers), 401, "unauthenticated"
        )
