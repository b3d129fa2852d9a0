"""Documents in the browser: a file uploaded with its progress bar and status chip following the
pipeline to Ready, opened with its text, found by search with the match highlighted, and
deleted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_upload_open_search_and_delete(
    signed_in: Dashboard, web_admin: Caller, tmp_path: Path
) -> None:
    page = signed_in.page
    notes = tmp_path / "heron-notes.md"
    notes.write_text("# Herons\n\nGrey herons hunt fish along the Tagus estuary.\n")
    await signed_in.go("Documents")
    await page.get_by_label("Tags for new uploads").fill("birds")
    await page.get_by_label("Choose files").set_input_files(str(notes))
    upload = page.locator(".uploads li").filter(has_text="heron-notes.md")
    await expect(upload.get_by_text("Ready")).to_be_visible(timeout=TIMEOUT)
    await expect(upload.get_by_role("progressbar")).to_have_attribute("value", "1")

    row = page.get_by_role("row", name=re.compile("heron-notes.md"))
    await expect(row.get_by_text("Ready")).to_be_visible(timeout=TIMEOUT)
    await expect(row.get_by_text("birds")).to_be_visible()
    await row.get_by_role("button", name="Open heron-notes.md").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_text("Grey herons hunt fish")).to_be_visible(timeout=TIMEOUT)
    assert await signed_in.axe() == []
    await dialog.get_by_role("button", name="Close").first.click()

    await page.get_by_role("tab", name="Search").click()
    await page.get_by_label("Search documents").fill("estuary")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator(".hits mark").first).to_have_text("estuary", timeout=TIMEOUT)
    await expect(page.locator(".hits").get_by_text("heron-notes.md · page 1")).to_be_visible()

    await page.get_by_role("tab", name="Library").click()
    row = page.get_by_role("row", name=re.compile("heron-notes.md"))
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("button", name="Yes").click()
    await expect(page.get_by_text("No documents yet.")).to_be_visible(timeout=TIMEOUT)
    left = await call(signed_in.live, web_admin, "GET", "/api/documents")
    assert left["items"] == []
    assert signed_in.browser.errors == []


@pytest.mark.shared_gateway
async def test_an_unsupported_file_shows_why(signed_in: Dashboard, tmp_path: Path) -> None:
    page = signed_in.page
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 64)
    await signed_in.go("Documents")
    await page.get_by_label("Choose files").set_input_files(str(fake))
    upload = page.locator(".uploads li").filter(has_text="invoice.pdf")
    await expect(upload.get_by_text("Failed")).to_be_visible(timeout=TIMEOUT)
    await expect(upload.get_by_text("application/x-executable", exact=False)).to_be_visible()
