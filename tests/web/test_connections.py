"""Connections page: a credential added from the form (shown masked with its reference), tested
without a test URL (the page says nothing was sent), rotated and removed."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call

SECRET = "sk-web-0123456789abcd"


async def test_add_test_rotate_and_remove_a_connection(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    page = signed_in.page
    await signed_in.go("Connections")
    await page.get_by_label(re.compile("^Name")).fill("openrouter")
    await page.get_by_label("Kind").select_option("bearer")
    await page.get_by_label(re.compile("^Secret")).fill(SECRET)
    await page.get_by_role("button", name="Add connection").click()
    row = page.get_by_role("row", name=re.compile("openrouter"))
    await expect(row).to_be_visible(timeout=TIMEOUT)
    await expect(row.get_by_text("{{vault:openrouter}}")).to_be_visible()
    await expect(row.get_by_text("sk-…abcd")).to_be_visible()
    assert SECRET not in await page.content()

    await row.get_by_role("button", name="Test openrouter").click()
    await expect(page.get_by_text(re.compile("^Not tested:"))).to_be_visible(timeout=TIMEOUT)

    await row.get_by_role("button", name="Rotate openrouter").click()
    await page.get_by_label("New secret for openrouter").fill("sk-new-99999999zzzz")
    await page.get_by_role("button", name="Rotate", exact=True).click()
    await expect(row.get_by_text("sk-…zzzz")).to_be_visible(timeout=TIMEOUT)
    listed = await call(signed_in.live, web_admin, "GET", "/api/connections")
    assert listed["items"][0]["rotatedAt"] is not None

    await row.get_by_role("button", name="Remove").click()
    await row.get_by_role("button", name="Yes").click()
    await expect(page.get_by_text("No connections yet.")).to_be_visible(timeout=TIMEOUT)
    assert await signed_in.axe() == []
    assert signed_in.browser.errors == []
