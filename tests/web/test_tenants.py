"""On an Enterprise Gateway whose licence has `multi_tenancy`, the Tenants page appears: a tenant
made from it, the admin added to it by API, then switched to from the header; custom roles can
be made, edited and deleted (`rbac`; by keyboard too, a refusal shown), and a tenant's members
assigned, changed and removed, a tenant deleted."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from sophon.settings import Settings, Tier
from tests.identity_helpers import PASSWORD, Caller, add_user
from tests.license_keys import ALL_FEATURES, Authority
from tests.web.dashboard import TIMEOUT, Dashboard, call


@pytest.fixture
def settings(settings: Settings) -> Settings:
    authority = Authority.new()
    return settings.model_copy(
        update={
            "tier": Tier.ENTERPRISE,
            "license_public_key": authority.public_b64,
            "license_key": authority.licence(features=list(ALL_FEATURES)),
        }
    )


async def test_tenants_page_and_switching(signed_in: Dashboard, web_admin: Caller) -> None:
    page = signed_in.page
    await signed_in.go("Tenants")
    await page.get_by_label("Slug").fill("acme")
    await page.get_by_label("Tenant name").fill("Acme Corp")
    await page.get_by_role("button", name="Create tenant").click()
    row = page.get_by_role("row").filter(has_text="Acme Corp")
    await expect(row).to_be_visible(timeout=TIMEOUT)
    assert await signed_in.axe() == []
    tenants = await call(signed_in.live, web_admin, "GET", "/api/admin/tenants")
    acme = next(t for t in tenants["items"] if t["slug"] == "acme")
    await call(
        signed_in.live, web_admin, "POST", f"/api/admin/tenants/{acme['id']}/users",
        user=web_admin.email, roles=["Admin"],
    )  # fmt: skip
    me = await call(signed_in.live, web_admin, "GET", "/api/auth/me")
    assert {t["slug"] for t in me["tenants"]} == {"default", "acme"}
    await page.reload()
    await page.get_by_role("combobox", name="Tenant").select_option("acme")
    await expect(page.get_by_text("Tenants are managed from the default tenant")).to_be_visible(
        timeout=TIMEOUT
    )  # the page stays put and says so, instead of asking the API, which refuses
    await signed_in.go("Agents")
    await expect(page.get_by_role("link", name="default")).to_be_visible(timeout=TIMEOUT)
    await page.reload()  # the tab keeps the tenant it switched to
    await page.get_by_role("link", name="The Admin").click()
    await signed_in.heading("Account")
    await expect(page.get_by_text(re.compile("tenant Acme Corp"))).to_be_visible(timeout=TIMEOUT)

    await signed_in.go("Roles")
    await page.get_by_label("Role name").fill("Auditor")
    await page.get_by_label("ViewAudit").check()
    await page.get_by_role("button", name="Create role").click()
    await expect(page.get_by_role("heading", name="Auditor")).to_be_visible(timeout=TIMEOUT)
    assert signed_in.browser.errors == []


async def test_a_custom_roles_permissions_are_edited(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    live, page = signed_in.live, signed_in.page
    await call(
        live, web_admin, "POST", "/api/admin/roles", name="Auditor", permissions=["ViewAudit"]
    )
    auditor = await add_user(live.http, web_admin, "aud@example.com", ["Auditor"])
    assert (await live.http.get("/api/admin/users", headers=auditor.headers)).status_code == 403

    await signed_in.go("Roles")
    builtin = page.get_by_role("region", name="Role Admin")
    await expect(builtin).to_be_visible(timeout=TIMEOUT)
    await expect(builtin.get_by_role("button")).to_have_count(0)  # built-in: read-only
    await page.get_by_role("button", name="Edit Auditor").click()
    form = page.get_by_role("form", name="Edit Auditor")
    await expect(form.get_by_label("ViewAudit")).to_be_checked()
    await form.get_by_label("ViewUsers").check()
    await form.get_by_label("Description").fill("Reads the audit log and the users")
    await form.get_by_role("button", name="Save role").click()
    await expect(form).to_have_count(0, timeout=TIMEOUT)

    await page.reload()
    await signed_in.heading("Roles")
    await page.get_by_role("button", name="Edit Auditor").click()
    form = page.get_by_role("form", name="Edit Auditor")
    await expect(form.get_by_label("ViewUsers")).to_be_checked()
    await expect(form.get_by_label("ViewAudit")).to_be_checked()
    description = form.get_by_label("Description")
    await expect(description).to_have_value("Reads the audit log and the users")
    # the member holding the role may now do what it grants, with the token they already had
    assert (await live.http.get("/api/admin/users", headers=auditor.headers)).status_code == 200
    assert signed_in.browser.errors == []


async def test_tenant_members_assigned_changed_and_removed(
    dashboard: Dashboard, web_admin: Caller
) -> None:
    live, page = dashboard.live, dashboard.page
    acme = await call(live, web_admin, "POST", "/api/admin/tenants", slug="acme", name="Acme Corp")
    await call(live, web_admin, "POST", "/api/admin/tenants", slug="other", name="Other Corp")
    await call(
        live, web_admin, "POST", f"/api/admin/tenants/{acme['id']}/users",
        user=web_admin.email, roles=["Admin"],
    )  # fmt: skip
    await add_user(live.http, web_admin, "bob@example.com", ["Member"])
    members = f"/api/admin/tenants/{acme['id']}/users"
    await dashboard.sign_in(web_admin.email, PASSWORD, "/admin/tenants")

    await page.get_by_role("button", name="Members of Acme Corp").click()
    dialog = page.get_by_role("dialog", name="Members of Acme Corp")
    await expect(dialog.get_by_role("row").filter(has_text=web_admin.email)).to_be_visible(
        timeout=TIMEOUT
    )
    await dialog.get_by_label("User").fill("bob@example.com")
    await dialog.get_by_role("checkbox", name="Viewer").uncheck()
    await dialog.get_by_role("checkbox", name="Operator").check()
    await dialog.get_by_role("button", name="Assign user").click()
    bob = dialog.get_by_role("row").filter(has_text="bob@example.com")
    await expect(bob).to_contain_text("Operator", timeout=TIMEOUT)
    listed = await call(live, web_admin, "GET", members)
    assert {m["email"]: m["roles"] for m in listed["items"]}["bob@example.com"] == ["Operator"]
    assert await dashboard.axe() == []

    await bob.get_by_role("button", name="Change roles of bob@example.com").click()
    await bob.get_by_role("checkbox", name="Viewer").check()
    await bob.get_by_role("button", name="Save roles").click()
    await expect(bob).to_contain_text("Operator, Viewer", timeout=TIMEOUT)
    listed = await call(live, web_admin, "GET", members)
    roles = {m["email"]: m["roles"] for m in listed["items"]}["bob@example.com"]
    assert sorted(roles) == ["Operator", "Viewer"]

    await bob.get_by_role("button", name="Remove").click()
    await bob.get_by_role("button", name="Yes").click()
    await expect(bob).to_have_count(0, timeout=TIMEOUT)
    listed = await call(live, web_admin, "GET", members)
    assert "bob@example.com" not in {m["email"] for m in listed["items"]}
    assert (await live.http.get("/api/auth/me", headers=web_admin.headers)).status_code == 200
    await dialog.get_by_role("button", name="Close").click()

    # in a tenant the admin is not a member of, members are listed and assigned, not changed
    await page.get_by_role("button", name="Members of Other Corp").click()
    dialog = page.get_by_role("dialog", name="Members of Other Corp")
    await expect(dialog.get_by_text("No members yet.")).to_be_visible(timeout=TIMEOUT)
    await expect(dialog.get_by_role("button", name="Assign user")).to_be_visible()
    await expect(dialog.get_by_text("assign yourself, switch to it")).to_be_visible()
    await dialog.get_by_label("User").fill(web_admin.email)  # assigning oneself: offered at once
    await dialog.get_by_role("checkbox", name="Admin").check()
    await dialog.get_by_role("button", name="Assign user").click()
    await expect(
        dialog.get_by_role("button", name=f"Change roles of {web_admin.email}")
    ).to_be_visible(timeout=TIMEOUT)
    switcher = page.get_by_role("combobox", name="Tenant")
    await expect(switcher.locator("option", has_text="Other Corp")).to_have_count(1)
    assert dashboard.browser.errors == []


async def test_confirming_a_delete_by_keyboard_and_its_refusal_shown(
    signed_in: Dashboard, web_admin: Caller
) -> None:
    live, page = signed_in.live, signed_in.page
    for name in ("Temp", "Busy"):
        await call(live, web_admin, "POST", "/api/admin/roles", name=name, permissions=["UseChat"])
    await add_user(live.http, web_admin, "busy@example.com", ["Busy"])
    await signed_in.go("Roles")
    temp = page.get_by_role("region", name="Role Temp")
    delete = temp.get_by_role("button", name="Delete")
    await delete.focus()
    await page.keyboard.press("Enter")
    await expect(temp.get_by_role("button", name="No")).to_be_focused()  # the safe choice
    await page.keyboard.press("Escape")
    await expect(delete).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(temp.get_by_role("button", name="No")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await expect(temp.get_by_role("button", name="Yes")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(temp).to_have_count(0, timeout=TIMEOUT)

    busy = page.get_by_role("region", name="Role Busy")  # assigned: the API refuses, and says why
    await busy.get_by_role("button", name="Delete").click()
    await busy.get_by_role("button", name="Yes").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("assigned to 1 member", timeout=TIMEOUT)
    await expect(alert).to_contain_text(re.compile(r"request id \S+"))
    await expect(busy).to_be_visible()
    roles = await call(live, web_admin, "GET", "/api/admin/roles")
    assert {"Busy"} <= {r["name"] for r in roles["items"]}
    assert "Temp" not in {r["name"] for r in roles["items"]}

    await signed_in.go("Tenants")
    await call(live, web_admin, "POST", "/api/admin/tenants", slug="gone", name="Gone Corp")
    await page.reload()
    row = page.get_by_role("row").filter(has_text="Gone Corp")
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("button", name="Yes").click()
    await expect(row).to_have_count(0, timeout=TIMEOUT)
    tenants = await call(live, web_admin, "GET", "/api/admin/tenants")
    assert "gone" not in {t["slug"] for t in tenants["items"]}
    # only the browser's own line about the refused request
    assert signed_in.browser.errors == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]
