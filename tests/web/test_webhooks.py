"""Webhooks page: an outbound endpoint created from the form (its secret shown once), a test
event sent and seen delivered, its attempt log opened; an inbound receiver with its URL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from playwright.async_api import expect

from sophon.settings import Settings
from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_allow": "127.0.0.1", "queue_poll_seconds": 0.2})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def test_outbound_webhook_created_tested_and_inspected(
    signed_in: Dashboard, web_admin: Caller, receiver: Receiver
) -> None:
    page = signed_in.page
    await signed_in.go("Webhooks")
    await page.get_by_label("Name", exact=True).fill("ci")
    await page.get_by_label("URL", exact=True).fill(f"{receiver.url}/hook")
    await page.get_by_label("Event types").fill("task.*, agent.created")
    await page.get_by_role("button", name="Create webhook").click()
    secret = page.get_by_label("Secret", exact=True)
    await expect(secret).to_have_text(re.compile(r"^whsec_"), timeout=TIMEOUT)
    await page.get_by_role("button", name="I stored it").click()
    await expect(secret).to_have_count(0)

    await page.get_by_role("button", name="Send test").click()
    await receiver.wait("/hook")
    hooks = await call(signed_in.live, web_admin, "GET", "/api/webhooks")
    webhook_id = hooks["items"][0]["id"]
    for _ in range(100):  # the attempt is recorded just after the receiver answered
        listed = await call(
            signed_in.live, web_admin, "GET", f"/api/webhooks/{webhook_id}/deliveries"
        )
        if listed["items"][0]["status"] != "Pending":
            break
        await asyncio.sleep(0.1)
    await page.get_by_role("button", name="Refresh").click()
    row = page.get_by_role("row", name=re.compile("webhook.test"))
    await expect(row.get_by_text("Succeeded")).to_be_visible(timeout=TIMEOUT)
    await row.get_by_role("button", name=re.compile("^dlv_")).click()
    await expect(page.get_by_role("region", name=re.compile("^Delivery dlv_"))).to_contain_text(
        '"statusCode": 200', timeout=TIMEOUT
    )
    assert hooks["items"][0]["eventTypes"] == ["task.*", "agent.created"]
    assert await signed_in.axe() == []
    assert signed_in.browser.errors == []


async def test_inbound_receiver_shows_its_url_and_a_bad_form_the_error(
    signed_in: Dashboard,
) -> None:
    page = signed_in.page
    await signed_in.go("Webhooks")
    await page.get_by_label("Kind").select_option("inbound")
    await page.get_by_label("Name", exact=True).fill("github")
    await page.get_by_label("Slug").fill("gh-push")
    await page.get_by_label("Signature scheme").select_option("github")
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.get_by_text("/api/webhooks/receive/gh-push").first).to_be_visible(
        timeout=TIMEOUT
    )
    await page.get_by_role("button", name="I stored it").click()
    await page.get_by_label("Kind").select_option("inbound")
    await page.get_by_label("Name", exact=True).fill("again")
    await page.get_by_label("Slug").fill("gh-push")
    await page.get_by_role("button", name="Create webhook").click()
    await expect(page.get_by_text("This slug is taken.")).to_be_visible(timeout=TIMEOUT)
    # the browser logs the refused request (409) itself; nothing else went wrong
    assert [e for e in signed_in.browser.errors if "409" not in e] == []


async def test_a_refused_field_is_listed_by_name(signed_in: Dashboard) -> None:
    page = signed_in.page
    await signed_in.go("Webhooks")
    await page.get_by_label("Name", exact=True).fill("leaky")
    await page.get_by_label("URL", exact=True).fill("http://user:pw@127.0.0.1/hook")
    await page.get_by_role("button", name="Create webhook").click()
    problem = page.get_by_role("alert").get_by_role("listitem")
    await expect(problem).to_have_text(
        "body.url: Credentials in the url are not allowed; use headers.", timeout=TIMEOUT
    )
