"""The cron page in the browser: add an agent job with the form, run it now and read its history
(with the next fire times), pause and resume it, and a webhook job waiting for its approval."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_cron_page_adds_runs_and_pauses_a_job(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    page = signed_in.page
    await signed_in.go("Cron jobs")
    await expect(page.get_by_text("No cron jobs yet.")).to_be_visible(timeout=TIMEOUT)
    await page.get_by_label("Job name").fill("nightly digest")
    await page.get_by_label("Schedule expression").fill("30 2 * * *")
    await page.get_by_label("Time zone").fill("America/New_York")
    await page.get_by_label("Message").fill("Summarise the day.")
    await page.get_by_role("button", name="Add job").click()
    row = page.get_by_role("row").filter(has_text="nightly digest")
    await expect(row).to_contain_text("Active", timeout=TIMEOUT)
    await expect(row).to_contain_text("America/New_York")

    await row.get_by_role("button", name="Run now").click()
    await expect(page.get_by_text("Started.")).to_be_visible(timeout=TIMEOUT)
    await row.get_by_role("button", name="History").click()
    history = page.get_by_role("region", name="History of nightly digest")
    await expect(history.get_by_role("cell", name="manual")).to_be_visible(timeout=TIMEOUT)
    await expect(history.get_by_text(re.compile(r"^Next: "))).to_be_visible()

    await row.get_by_role("button", name="Pause").click()
    await expect(row).to_contain_text("Paused", timeout=TIMEOUT)
    await row.get_by_role("button", name="Resume").click()
    await expect(row).to_contain_text("Active", timeout=TIMEOUT)

    jobs = await call(signed_in.live, web_admin, "GET", "/api/cron")
    assert [j["name"] for j in jobs["items"]] == ["nightly digest"]
    assert signed_in.browser.errors == []


@pytest.mark.shared_gateway
async def test_a_webhook_job_shows_its_secret_once_and_waits(signed_in: Dashboard) -> None:
    page = signed_in.page
    await signed_in.go("Cron jobs")
    await page.get_by_label("Job name").fill("hook")
    await page.get_by_label("Action").select_option("webhook")
    await page.get_by_label("Webhook URL").fill("https://example.com/in")
    await page.get_by_role("button", name="Add job").click()
    await expect(page.locator("code.secret")).to_contain_text("whsec_", timeout=TIMEOUT)
    row = page.get_by_role("row").filter(has_text="hook")
    await expect(row).to_contain_text("PendingApproval", timeout=TIMEOUT)
    await expect(row.get_by_role("button", name="Run now")).to_be_disabled()
    assert await signed_in.axe() == []
    assert signed_in.browser.errors == []
