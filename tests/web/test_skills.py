"""Skills: the bundled skills listed, an archive installed from the form (unsigned, allowed),
enabled for an agent, a version shown, and uninstalled."""

from __future__ import annotations

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.skills.skill_helpers import package, zip_of
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_install_enable_and_uninstall_a_skill(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    page = signed_in.page
    await signed_in.go("Skills")
    lint = page.get_by_role("region", name="Skill code.lint")
    await expect(lint).to_contain_text("bundled", timeout=TIMEOUT)
    await expect(lint).to_contain_text("code.lint (None)")

    await page.get_by_role("button", name="Install a skill").click()
    await page.get_by_label("Archive", exact=True).set_input_files(
        {"name": "echoer.zip", "mimeType": "application/zip", "buffer": zip_of(package("echoer"))}
    )
    await page.get_by_role("button", name="Install", exact=True).click()
    form = page.get_by_role("form", name="Install a skill")
    await expect(form.get_by_role("alert")).to_contain_text("allowUnsigned", timeout=TIMEOUT)
    await page.get_by_label("Allow unsigned").check()
    await page.get_by_role("button", name="Install", exact=True).click()
    card = page.get_by_role("region", name="Skill echoer")
    await expect(card).to_contain_text("unsigned", timeout=TIMEOUT)
    await expect(card).to_contain_text("echoer.run (Low)")

    await card.get_by_role("button", name="Details for echoer").click()
    await card.get_by_label("Agent").select_option(label="default")
    await card.get_by_role("button", name="Enable", exact=True).click()
    await expect(card.get_by_role("button", name="Disable for default")).to_be_visible(
        timeout=TIMEOUT
    )
    await expect(card.get_by_role("table")).to_contain_text("1.0.0")
    skill = await call(signed_in.live, web_admin, "GET", "/api/skills/echoer")
    assert len(skill["enabledAgents"]) == 1

    await card.get_by_role("button", name="Uninstall").click()
    await card.get_by_role("button", name="Yes").click()
    await expect(page.get_by_role("region", name="Skill echoer")).to_have_count(0, timeout=TIMEOUT)
    # the one failed request is the refused unsigned install above
    assert [e for e in signed_in.browser.errors if "422" not in e] == []
