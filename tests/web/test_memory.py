"""Memory in the browser: a memory added, found by search with its match highlighted, its
entity drawn as a graph, and forgetting it asked for approval."""

from __future__ import annotations

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_add_search_graph_and_forget(signed_in: Dashboard, web_admin: Caller) -> None:
    page = signed_in.page
    await signed_in.go("Memory")
    await page.get_by_label("New memory").fill("Ada Lovelace works at Babbage Engines in London.")
    await page.get_by_role("button", name="Add memory").click()
    entry = page.locator(".entries li").filter(has_text="Ada Lovelace")
    await expect(entry).to_be_visible(timeout=TIMEOUT)

    await page.get_by_role("tab", name="Search").click()
    await page.get_by_label("Search memories").fill("Lovelace")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator(".hits mark").first).to_have_text("Lovelace", timeout=TIMEOUT)

    await page.get_by_role("tab", name="Entries").click()
    chips = entry.get_by_role("button", name="Ada Lovelace")
    await chips.first.click()
    await expect(
        page.get_by_role("img", name="Entity graph (the relations are listed below)")
    ).to_be_visible(timeout=TIMEOUT)
    await expect(page.locator(".graph canvas").first).to_be_attached(timeout=TIMEOUT)

    await page.get_by_role("tab", name="Entries").click()
    await entry.get_by_role("button", name="Forget").click()
    await entry.get_by_role("button", name="Yes").click()
    await expect(page.get_by_text("Forgetting is waiting for approval")).to_be_visible(
        timeout=TIMEOUT
    )
    pending = await call(signed_in.live, web_admin, "GET", "/api/approvals")
    assert len(pending["items"]) == 1
    assert signed_in.browser.errors == []
