"""The Workflows page: a bad definition shows the node and field at fault, a good one is saved
and opened; a run started from the page shows its node records live; versions list."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call

DEFINITION = {
    "name": "Greeter",
    "trigger": {"type": "manual"},
    "nodes": [
        {"id": "greet", "type": "data.transform", "config": {"output": "Hi {{ $input.who }}"}},
        {
            "id": "shout",
            "type": "data.transform",
            "config": {"output": "{{ $node.greet.output | upper }}"},
        },
    ],
    "edges": [{"from": "greet", "to": "shout"}],
}


async def test_a_workflow_made_and_run_from_the_page(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    page = signed_in.page
    await signed_in.go("Workflows")
    await expect(page.get_by_text("No workflows yet.")).to_be_visible(timeout=TIMEOUT)
    editor = page.get_by_label("Definition (JSON)")
    broken = {**DEFINITION, "edges": [{"from": "greet", "to": "nowhere"}]}
    await editor.fill(json.dumps(broken))
    await page.get_by_role("button", name="Save workflow").click()
    await expect(page.get_by_role("alert")).to_contain_text("edges[0].to", timeout=TIMEOUT)
    listed = await call(signed_in.live, web_admin, "GET", "/api/workflows")
    assert listed["items"] == []
    # the browser logs the refused request (422) as a console error: it was expected here
    assert signed_in.browser.errors == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
    signed_in.browser.errors.clear()

    await editor.fill(json.dumps(DEFINITION))
    await page.get_by_role("button", name="Save workflow").click()
    await signed_in.heading("Greeter")
    await page.get_by_label("Input (JSON)").fill('{"who": "Ada"}')
    await page.get_by_role("button", name="Run now").click()
    run = page.get_by_role("region", name="Run")
    await expect(run.get_by_role("row", name=re.compile("shout"))).to_contain_text(
        "HI ADA", timeout=TIMEOUT
    )
    await expect(run).to_contain_text("Completed")
    await expect(page.get_by_text(re.compile("Version 1 · imported"))).to_be_visible()
    assert await signed_in.axe() == []
    assert signed_in.browser.errors == []
