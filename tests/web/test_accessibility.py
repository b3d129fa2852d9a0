"""axe-core over every page of the Dashboard, in both themes and on a phone-sized screen: no
serious or critical violation, no console error."""

from __future__ import annotations

from tests.web.dashboard import Dashboard

PAGES = {
    "/documents": "Documents",
    "/operations": "Operations",
    "/account": "Account",
}


async def test_every_page_passes_axe(signed_in: Dashboard) -> None:
    found = {}
    for theme in ("light", "dark"):
        await signed_in.page.emulate_media(color_scheme=theme)
        for path, heading in PAGES.items():
            await signed_in.open(path)
            await signed_in.heading(heading)
            await signed_in.page.wait_for_load_state("networkidle")
            violations = await signed_in.axe()
            if violations:
                found[f"{theme} {path}"] = violations
    assert found == {}
    assert signed_in.browser.errors == []


async def test_sign_in_page_passes_axe_on_a_phone(dashboard: Dashboard, web_admin: object) -> None:
    await dashboard.page.set_viewport_size({"width": 390, "height": 844})
    await dashboard.open("/")
    await dashboard.page.get_by_role("heading", name="Sign in to Sophon").wait_for()
    assert await dashboard.axe() == []
    assert dashboard.browser.errors == []
