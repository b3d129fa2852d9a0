"""An AutoAdmin Gateway (Personal tier, loopback) opens the Dashboard straight in: no setup, no
sign-in, and no sign-out button (there is no session to end)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from sophon.settings import Settings
from tests.web.dashboard import TIMEOUT, Dashboard


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auto_admin": True})


async def test_auto_admin_skips_setup_and_sign_in(dashboard: Dashboard) -> None:
    await dashboard.open("/")
    await dashboard.heading("Chat")
    await expect(dashboard.page.get_by_role("link", name="Local Admin")).to_be_visible(
        timeout=TIMEOUT
    )
    await expect(dashboard.page.get_by_role("button", name="Sign out")).to_have_count(0)
    await dashboard.go("Agents")
    assert dashboard.browser.errors == []
