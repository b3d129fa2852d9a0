"""Agents: a persona file edited, compared and restored from its history, and the tool
allowlist; Models: a provider added from the form and tested, the result shown."""

from __future__ import annotations

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.llm.fakes import FakeServer, JsonReply, openai_completion
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_persona_edit_diff_and_restore(signed_in: Dashboard, web_admin: Caller) -> None:
    page = signed_in.page
    await signed_in.go("Agents")
    await page.get_by_role("link", name="default").click()
    await signed_in.heading("default")
    await page.get_by_role("tab", name="Persona files").click()
    editor = page.get_by_label("SOUL.md (version 1)")
    await expect(editor).to_be_visible(timeout=TIMEOUT)
    original = await editor.input_value()
    assert original.startswith("# Soul")  # the editor never shows an empty file before its content
    await editor.fill("You are a pirate. Answer in rhymes.")
    await page.get_by_role("button", name="Save SOUL.md").click()
    await expect(page.get_by_label("SOUL.md (version 2)")).to_have_value(
        "You are a pirate. Answer in rhymes.", timeout=TIMEOUT
    )
    await page.get_by_role("button", name="Compare version 1").click()
    diff = page.get_by_label("Changes from version 1")
    await expect(diff.locator(".add")).to_contain_text("pirate")
    await page.get_by_role("button", name="Restore version 1").click()
    await expect(page.get_by_label("SOUL.md (version 3)")).to_have_value(original, timeout=TIMEOUT)
    agents = await call(signed_in.live, web_admin, "GET", "/api/agents")
    agent_id = agents["items"][0]["id"]
    soul = await call(signed_in.live, web_admin, "GET", f"/api/agents/{agent_id}/soul")
    assert soul["content"] == original
    assert soul["version"] == 3

    await page.get_by_role("tab", name="Tools", exact=True).click()
    box = page.get_by_label("Allow code.execute")
    await box.check()
    await page.get_by_role("button", name="Save allowlist").click()
    await expect(page.get_by_text("Tool allowlist saved.")).to_be_visible(timeout=TIMEOUT)
    tools = await call(signed_in.live, web_admin, "GET", f"/api/agents/{agent_id}/tools")
    assert "code.execute" in tools["tools"]
    assert signed_in.browser.errors == []


async def test_a_provider_added_and_tested(
    signed_in: Dashboard, web_admin: Caller, fake_server: FakeServer
) -> None:
    fake_server.reset()
    fake_server.script("POST", "/v1/chat/completions", JsonReply(openai_completion("pong")))
    page = signed_in.page
    await signed_in.go("Models")
    await page.get_by_role("button", name="Add provider").click()
    await page.get_by_label("Name").fill("loopback")
    await page.get_by_label("Base URL").fill(f"{fake_server.url}/v1")
    await page.get_by_label("API key").fill("sk-test-secret")
    # no model named: the Gateway lists the server's own (GET /v1/models)
    await page.get_by_role("button", name="Add provider").click()
    card = page.get_by_role("region", name="Provider loopback")
    await expect(card).to_contain_text("priority 1", timeout=TIMEOUT)
    await expect(card).not_to_contain_text("sk-test-secret")  # masked
    await card.get_by_role("button", name="Test").click()
    result = card.get_by_role("status")
    await expect(result).to_contain_text("Test passed", timeout=TIMEOUT)
    await expect(result).to_contain_text("pong")

    await card.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit loopback")
    await dialog.get_by_label("Priority").fill("5")
    await dialog.get_by_role("button", name="Save provider").click()
    await expect(card).to_contain_text("priority 5", timeout=TIMEOUT)
    await page.get_by_role("tab", name="Catalog").click()
    await expect(page.get_by_text("loopback/fake-chat-large", exact=True)).to_be_visible(
        timeout=TIMEOUT
    )
    assert signed_in.browser.errors == []
