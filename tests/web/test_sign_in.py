"""First run, sign-in, a reload that stays signed in without any token in storage, sign-out,
and the page remembered across sign-in."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from sophon.settings import Settings
from tests.conftest import FakeClock
from tests.identity_helpers import PASSWORD, Caller, login
from tests.web.dashboard import TIMEOUT, Dashboard, call


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sessions that outlive an access token by far, so expiry can be met one at a time."""
    return settings.model_copy(update={"session_idle_minutes": 600})


NO_STORED_TOKEN = """() => JSON.stringify([Object.entries(localStorage),
  Object.entries(sessionStorage), document.cookie])"""


async def test_first_run_setup_then_reload_sign_out_and_sign_in(
    dashboard: Dashboard, settings: Settings
) -> None:
    page = dashboard.page
    await dashboard.open("/")
    await expect(page.get_by_role("heading", name="Set up Sophon")).to_be_visible(timeout=TIMEOUT)
    await page.get_by_label("Setup token").fill("wrong")
    await page.get_by_label("Email").fill("owner@example.com")
    await page.get_by_label("Display name").fill("Owner")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create administrator").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("The setup token is incorrect", timeout=TIMEOUT)
    await expect(alert.locator(".request-id")).to_have_text(
        re.compile(r"^req_\w+$"), timeout=TIMEOUT
    )

    token = (settings.data / "setup-token").read_text().strip()
    await page.get_by_label("Setup token").fill(token)
    await page.get_by_role("button", name="Create administrator").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT)
    assert "sophon_refresh" not in await page.evaluate(NO_STORED_TOKEN)

    await page.reload()  # the httpOnly refresh cookie brings the session back
    await expect(page.get_by_role("link", name="Owner")).to_be_visible(timeout=TIMEOUT)
    stored = await page.evaluate(NO_STORED_TOKEN)
    assert "eyJ" not in stored
    assert "sophon_refresh" not in stored

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in to Sophon")).to_be_visible(
        timeout=TIMEOUT
    )
    await page.reload()  # signed out for good: the cookie is gone and its session revoked
    await expect(page.get_by_role("heading", name="Sign in to Sophon")).to_be_visible(
        timeout=TIMEOUT
    )
    await page.get_by_label("Email").fill("owner@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Sign-in failed", timeout=TIMEOUT)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=TIMEOUT)
    assert dashboard.browser.blocked == []
    # the two refused attempts (wrong setup token, wrong password) are the only console errors
    assert len(dashboard.browser.errors) == 2, dashboard.browser.errors


async def test_signing_in_returns_to_the_page_asked_for(
    dashboard: Dashboard, web_admin: Caller
) -> None:
    await dashboard.sign_in(web_admin.email, PASSWORD, path="/operations")
    await dashboard.heading("Operations")
    assert dashboard.page.url.endswith("/operations")
    await dashboard.page.go_back()
    await dashboard.page.go_forward()
    await dashboard.heading("Operations")


async def test_an_expired_token_refreshes_quietly_and_an_ended_session_asks_to_sign_in(
    clock: FakeClock, dashboard: Dashboard, web_admin: Caller
) -> None:
    page = dashboard.page
    await dashboard.sign_in(web_admin.email, PASSWORD, path="/operations")
    await expect(page.locator(".processing")).to_have_text("running", timeout=TIMEOUT)
    clock.advance(minutes=61)  # the access token (60 min) has expired; the session has not
    async with page.expect_response(lambda r: r.url.endswith("/api/auth/refresh/cookie")) as got:
        await page.get_by_role("button", name="Refresh").click()  # 401, refresh, the call again
    assert (await got.value).ok
    await expect(page.locator(".processing")).to_have_text("running", timeout=TIMEOUT)
    await expect(page.get_by_role("alert")).to_have_count(0)
    admin = await login(dashboard.live.http, web_admin.email)
    refreshes = await call(dashboard.live, admin, "GET", "/api/admin/audit?action=auth.refresh")
    assert len(refreshes["items"]) == 1  # the quiet refresh, through the cookie

    me = await call(dashboard.live, admin, "GET", "/api/auth/me")
    await call(dashboard.live, admin, "POST", f"/api/admin/users/{me['user']['id']}/logout")
    await page.get_by_role("button", name="Refresh").click()  # its session is gone now
    await expect(page.get_by_text("Your session ended")).to_be_visible(timeout=TIMEOUT)
    assert page.url.endswith("/operations")
    await page.get_by_label("Email").fill(web_admin.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await dashboard.heading("Operations")  # back where the person was
