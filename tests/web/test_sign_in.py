"""First run, sign-in, a reload that stays signed in without any token in storage, sign-out,
and the page remembered across sign-in."""

from __future__ import annotations

import re

from playwright.async_api import expect

from sophon.settings import Settings
from tests.identity_helpers import PASSWORD, Caller
from tests.web.dashboard import TIMEOUT, Dashboard

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
