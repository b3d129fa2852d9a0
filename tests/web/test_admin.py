"""Admin pages in the browser: the audit chain verified (and a tampered one shown broken), the
audit log downloaded as NDJSON and CSV with the page's filter, a user created and suspended, an
API token shown once, and a Viewer who sees no admin page."""

from __future__ import annotations

import csv
import io
import json

import pytest
from playwright.async_api import expect
from sqlalchemy import text

from tests.identity_helpers import PASSWORD, Caller
from tests.web.dashboard import TIMEOUT, Dashboard, call


async def test_audit_verify_shows_the_result(signed_in: Dashboard) -> None:
    page = signed_in.page
    await signed_in.go("Audit log")
    await expect(page.get_by_role("cell", name="auth.setup")).to_be_visible(timeout=TIMEOUT)
    await page.get_by_role("button", name="Verify chain").click()
    await expect(page.get_by_role("status").filter(has_text="Chain intact")).to_be_visible(
        timeout=TIMEOUT
    )
    async with signed_in.live.gateway.db.engine.begin() as conn:  # someone edits the database
        await conn.execute(text("UPDATE audit_entries SET action = 'auth.nothing' WHERE seq = 2"))
    await page.get_by_role("button", name="Verify chain").click()
    await expect(page.get_by_role("status").filter(has_text="Chain broken")).to_be_visible(
        timeout=TIMEOUT
    )
    await page.get_by_label("Action").fill("auth.login")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("cell", name="auth.setup")).to_have_count(0, timeout=TIMEOUT)
    assert signed_in.browser.errors == []


async def test_audit_export_downloads_the_filtered_entries(signed_in: Dashboard) -> None:
    page = signed_in.page
    await signed_in.go("Audit log")
    await expect(page.get_by_role("cell", name="auth.setup")).to_be_visible(timeout=TIMEOUT)
    async with page.expect_download(timeout=TIMEOUT) as ndjson:
        await page.get_by_role("button", name="Export NDJSON").click()
    download = await ndjson.value
    assert download.suggested_filename == "audit.ndjson"
    entries = [json.loads(line) for line in (await download.path()).read_text().splitlines()]
    actions = [e["action"] for e in entries]
    assert actions[0] == "auth.setup"
    assert "auth.login" in actions
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)  # oldest first

    await page.get_by_label("Action").fill("auth.login")  # the export follows the filter
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("cell", name="auth.setup")).to_have_count(0, timeout=TIMEOUT)
    async with page.expect_download(timeout=TIMEOUT) as csv_file:
        await page.get_by_role("button", name="Export CSV").click()
    download = await csv_file.value
    assert download.suggested_filename == "audit.csv"
    rows = list(csv.DictReader(io.StringIO((await download.path()).read_text())))
    assert len(rows) >= 1
    assert {r["action"] for r in rows} == {"auth.login"}
    assert rows[0]["actorEmail"] == "admin@example.com"
    assert signed_in.browser.errors == []


async def test_users_and_tokens(signed_in: Dashboard, web_admin: Caller) -> None:
    page = signed_in.page
    await signed_in.go("Users")
    await page.get_by_label("Email").fill("viewer@example.com")
    await page.get_by_label("Display name").fill("Vera Viewer")
    await page.get_by_label("Member").uncheck()
    await page.get_by_label("Viewer").check()
    await page.get_by_role("button", name="Create user").click()
    await expect(page.get_by_text("One-time password (shown once)")).to_be_visible(timeout=TIMEOUT)
    row = page.get_by_role("row").filter(has_text="viewer@example.com")
    await expect(row).to_contain_text("Viewer")
    await row.get_by_role("button", name="Suspend").click()
    await expect(row).to_contain_text("Suspended", timeout=TIMEOUT)
    await row.get_by_role("button", name="Reactivate").click()
    await expect(row).to_contain_text("Active", timeout=TIMEOUT)

    await signed_in.go("API tokens")
    await page.get_by_label("Token name").fill("ci")
    await page.get_by_role("button", name="Create token").click()
    secret = page.locator("code.secret")
    await expect(secret).to_be_visible(timeout=TIMEOUT)
    token = await secret.inner_text()
    assert token.startswith("sk_")
    me = await signed_in.live.http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    await page.get_by_role("button", name="Revoke").click()
    await page.get_by_role("button", name="Yes").click()
    await expect(page.get_by_text("No tokens.")).to_be_visible(timeout=TIMEOUT)
    assert signed_in.browser.errors == []


@pytest.mark.shared_gateway
async def test_a_viewer_sees_only_what_they_may_use(
    dashboard: Dashboard, web_admin: Caller
) -> None:
    await call(
        dashboard.live, web_admin, "POST", "/api/admin/users",
        email="v@example.com", displayName="V", password=PASSWORD, roles=["Viewer"],
        mustChangePassword=False,
    )  # fmt: skip
    await dashboard.sign_in("v@example.com", PASSWORD)
    nav = dashboard.page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Agents")).to_be_visible(timeout=TIMEOUT)
    for hidden in ("Chat", "Audit log", "Tenants", "Licence"):
        await expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    await dashboard.open("/admin/audit")
    await dashboard.heading("Not allowed")
    await dashboard.open("/agents")
    await dashboard.heading("Agents")
    await expect(dashboard.page.get_by_role("button", name="Create agent")).to_have_count(0)
    assert dashboard.browser.errors == []


async def test_operations_pause_and_resume(signed_in: Dashboard, web_admin: Caller) -> None:
    page = signed_in.page
    await signed_in.go("Operations")
    processing = page.locator(".processing")
    await expect(processing).to_have_text("running", timeout=TIMEOUT)
    await page.get_by_role("button", name="Pause").click()
    await expect(processing).to_have_text("paused", timeout=TIMEOUT)
    health = await call(signed_in.live, web_admin, "GET", "/api/ops/health")
    assert health["processing"] == "paused"
    await page.get_by_role("button", name="Resume").click()
    await expect(processing).to_have_text("running", timeout=TIMEOUT)
    await expect(page.get_by_role("heading", name="Database")).to_be_visible()
    await expect(page.get_by_role("heading", name="Background start")).to_contain_text("ok")
    assert signed_in.browser.errors == []
