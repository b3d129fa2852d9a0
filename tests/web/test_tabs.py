"""Every tab strip of the Dashboard is one WAI-ARIA tabs widget: Left/Right (wrapping), Home and
End move the focus and select, only the selected tab is in the Tab order, and each tab controls
the panel that is labelled by it."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.web.dashboard import TIMEOUT, Dashboard


async def selected(page: Page, strip: str) -> str:
    """The selected tab of the strip, after checking the widget's ARIA wiring around it."""
    tablist = page.get_by_role("tablist", name=strip)
    tabs = tablist.get_by_role("tab")
    chosen = tablist.get_by_role("tab", selected=True)
    await expect(chosen).to_have_count(1)
    await expect(chosen).to_be_focused()
    await expect(chosen).to_have_attribute("tabindex", "0")
    await expect(tablist.locator('[role="tab"][tabindex="0"]')).to_have_count(1)
    others = tablist.locator('[role="tab"][tabindex="-1"]')
    await expect(others).to_have_count(await tabs.count() - 1)
    panel_id = await chosen.get_attribute("aria-controls")
    panel = page.locator(f"#{panel_id}")
    await expect(panel).to_have_attribute("role", "tabpanel")
    await expect(panel).to_have_attribute("aria-labelledby", str(await chosen.get_attribute("id")))
    return await chosen.inner_text()


@pytest.mark.shared_gateway
async def test_arrow_keys_home_and_end_move_between_tabs(signed_in: Dashboard) -> None:
    page = signed_in.page
    await signed_in.go("Memory")
    await page.get_by_role("tab", name="Entries").focus()
    assert await selected(page, "Memory") == "Entries"
    await page.keyboard.press("ArrowRight")
    assert await selected(page, "Memory") == "Search"
    await expect(page.get_by_role("tabpanel").get_by_role("button", name="Search")).to_be_visible(
        timeout=TIMEOUT
    )
    await page.keyboard.press("End")
    assert await selected(page, "Memory") == "Daily logs"
    await page.keyboard.press("ArrowRight")  # wraps around
    assert await selected(page, "Memory") == "Entries"
    await page.keyboard.press("ArrowLeft")
    assert await selected(page, "Memory") == "Daily logs"
    await page.keyboard.press("Home")
    assert await selected(page, "Memory") == "Entries"
    await page.keyboard.press("ArrowDown")  # not a tabs key: nothing moves
    assert await selected(page, "Memory") == "Entries"
    # Tab leaves the strip for the panel instead of walking through the other tabs
    await page.keyboard.press("Tab")
    focused_tab = page.get_by_role("tablist", name="Memory").locator(":focus")
    await expect(focused_tab).to_have_count(0)

    # the same widget everywhere, nested strips included (an agent's persona files)
    await signed_in.go("Agents")
    await page.get_by_role("link", name="default").click()
    await page.get_by_role("tab", name="Settings").focus()
    await page.keyboard.press("ArrowRight")
    assert await selected(page, "Agent") == "Persona files"
    await page.get_by_role("tab", name="SOUL.md").focus()
    await page.keyboard.press("ArrowLeft")
    assert await selected(page, "Persona files") == "AGENTS.md"
    await expect(page.get_by_role("tab", name="Persona files")).to_have_attribute(
        "aria-selected", "true"
    )
    assert signed_in.browser.errors == []
