"""The Approvals page shows a request live and decides it (the edit checked against the tool's
schema first); the Tasks page shows the turn and its detail."""

from __future__ import annotations

from playwright.async_api import expect

from tests.identity_helpers import Caller
from tests.web.dashboard import TIMEOUT, Dashboard, allow_tools, call

PRINT = '/tool code.execute {"code": "print(6 * 7)"}'


async def test_an_approval_edited_and_approved_from_the_approvals_page(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    await allow_tools(signed_in.live, web_admin, "code.*")
    page = signed_in.page
    await signed_in.go("Approvals")
    await expect(page.get_by_text("Nothing is waiting for approval.")).to_be_visible(
        timeout=TIMEOUT
    )
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=TIMEOUT)
    accepted = await call(signed_in.live, web_admin, "POST", "/api/chat", content=PRINT)

    card = page.get_by_role("region", name="Approval for code.execute")
    await expect(card).to_contain_text("print(6 * 7)", timeout=TIMEOUT)  # arrived live
    await card.get_by_role("button", name="Edit").click()
    editor = card.get_by_label("Arguments (JSON)")
    await editor.fill("{not json")
    await card.get_by_role("button", name="Approve with these arguments").click()
    await expect(card.get_by_role("alert")).to_contain_text("Not valid JSON")
    await editor.fill('{"code": 5}')
    await card.get_by_role("button", name="Approve with these arguments").click()
    await expect(card.get_by_role("alert")).to_contain_text("code: must be string")
    pending = await call(signed_in.live, web_admin, "GET", "/api/approvals")
    assert [a["status"] for a in pending["items"]] == ["Pending"]  # nothing sent yet

    await editor.fill('{"code": "print(7 * 6 + 1)"}')
    await card.get_by_role("button", name="Approve with these arguments").click()
    await expect(card).to_have_count(0, timeout=TIMEOUT)
    await page.get_by_role("tab", name="History").click()
    row = page.get_by_role("row").filter(has_text="code.execute")
    await expect(row).to_contain_text("Approved", timeout=TIMEOUT)

    task = await call(signed_in.live, web_admin, "GET", f"/api/tasks/{accepted['taskId']}?wait=30")
    assert task["status"] == "Completed"
    await signed_in.go("Tasks")
    await page.get_by_role("tab", name="History").click()
    await page.get_by_role("link", name=task["description"]).first.click()
    await expect(page.get_by_text("Completed").first).to_be_visible(timeout=TIMEOUT)
    tool = page.locator("details.tool-call").filter(has_text="code.execute")
    await tool.locator("summary").click()
    await expect(tool.locator("pre.result")).to_contain_text("43")
    assert signed_in.browser.errors == []
