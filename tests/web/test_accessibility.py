"""axe-core over every page of the Dashboard, in both themes and on a phone-sized screen: no
serious or critical violation, nothing scrolling sideways on the phone, no console error."""

from __future__ import annotations

from typing import Literal

import pytest

from tests.identity_helpers import Caller
from tests.web.dashboard import Dashboard, call

PAGES = {
    "/chat": "Chat",
    "/approvals": "Approvals",
    "/tasks": "Tasks",
    "/memory": "Memory",
    "/agents": "Agents",
    "/models": "Models",
    "/cron": "Cron jobs",
    "/workflows": "Workflows",
    "/settings/mcp": "MCP",
    "/settings/connections": "Connections",
    "/admin/users": "Users",
    "/admin/roles": "Roles",
    "/admin/tokens": "API tokens",
    "/admin/license": "Licence",
    "/admin/audit": "Audit log",
    "/documents": "Documents",
    "/operations": "Operations",
    "/webhooks": "Webhooks",
    "/skills": "Skills",
    "/account": "Account",
    "/nowhere": "Page not found",
}


@pytest.mark.shared_gateway
@pytest.mark.parametrize(
    ("theme", "width"),
    # light on a desktop, dark on a 390 px wide phone (where nothing may scroll sideways): the
    # layout differs only between those two, and each theme is scanned once
    [("light", 1280), ("dark", 390)],
)
async def test_every_page_passes_axe(
    signed_in: Dashboard, web_admin: Caller, theme: Literal["light", "dark"], width: int
) -> None:
    agents = await call(signed_in.live, web_admin, "GET", "/api/agents")
    pages = {**PAGES, f"/agents/{agents['items'][0]['id']}": "default"}
    found = {}
    await signed_in.page.emulate_media(color_scheme=theme)
    await signed_in.page.set_viewport_size({"width": width, "height": 844})
    for path, heading in pages.items():
        await signed_in.visit(path)  # inside the app: one document, axe injected once
        await signed_in.heading(heading)
        await signed_in.settled()
        violations = await signed_in.axe()
        overflow = await signed_in.page.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        )
        if overflow > 0:
            violations.append({"id": "horizontal-scroll", "pixels": overflow})
        if violations:
            found[path] = violations
    assert found == {}
    assert signed_in.browser.errors == []


@pytest.mark.shared_gateway
async def test_sign_in_page_passes_axe_on_a_phone(dashboard: Dashboard, web_admin: object) -> None:
    await dashboard.page.set_viewport_size({"width": 390, "height": 844})
    await dashboard.open("/")
    await dashboard.page.get_by_role("heading", name="Sign in to Sophon").wait_for()
    assert await dashboard.axe() == []
    assert dashboard.browser.errors == []
