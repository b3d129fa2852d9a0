"""On an Enterprise Gateway whose licence has `multi_tenancy`, the Tenants page appears: a tenant
made from it, the admin added to it by API, then switched to from the header; custom roles can
be made (`rbac`)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from sophon.settings import Settings, Tier
from tests.identity_helpers import Caller
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
