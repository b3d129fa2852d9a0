"""MCP page: a remote server added from the form, tested (the failure shown), removed; an MCP
token made (its secret shown once) and revoked."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_servers_and_tokens(signed_in: Dashboard, web_admin: Caller) -> None:
    page = signed_in.page
    await signed_in.go("MCP")
    await page.get_by_label("Name").fill("remote")
    await page.get_by_label("Transport").select_option("streamableHttp")
    await page.get_by_label("URL").fill("http://127.0.0.1:9/mcp")
    await page.get_by_label("Bearer token").fill("tok-abcdef-123456")
    await page.get_by_role("button", name="Add server").click()
    row = page.get_by_role("row", name=re.compile("remote"))
    await expect(row).to_be_visible(timeout=TIMEOUT)
    servers = await call(signed_in.live, web_admin, "GET", "/api/mcp/servers")
    (server,) = servers["items"]
    assert server["auth"]["type"] == "bearer"
    assert "123456" not in str(server["auth"]["secret"]).replace("3456", "")

    await page.get_by_role("button", name="Test remote").click()
    await expect(page.get_by_text(re.compile("^Failed:"))).to_be_visible(timeout=TIMEOUT)
    await row.get_by_role("button", name="Remove").click()
    await row.get_by_role("button", name="Yes").click()
    await expect(page.get_by_text("No MCP servers yet.")).to_be_visible(timeout=TIMEOUT)

    await page.get_by_role("tab", name="Sophon as a server").click()
    await page.get_by_label("Token name").fill("desktop")
    await page.get_by_role("button", name="Create MCP token").click()
    await expect(page.locator("code.secret")).to_contain_text("mcp_", timeout=TIMEOUT)
    token_row = page.get_by_role("row", name=re.compile("desktop"))
    await token_row.get_by_role("button", name="Revoke").click()
    await token_row.get_by_role("button", name="Yes").click()
    await expect(token_row.get_by_text("Revoked")).to_be_visible(timeout=TIMEOUT)
    assert await signed_in.axe() == []
    assert signed_in.browser.errors == []
