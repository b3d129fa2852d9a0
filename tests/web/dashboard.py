"""Driving the Dashboard in a test: open a path, sign in, read what the page shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.browser import BrowserPage
from tests.identity_helpers import Caller
from tests.realtime.live import Live

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SOURCE = AXE.read_text()
TIMEOUT = 15_000
# counts the page's fetches in flight (installed once per document)
COUNT_FETCHES = """() => {
  if (window.__inflight !== undefined) return;
  window.__inflight = 0;
  const fetch = window.fetch;
  window.fetch = (...args) => {
    window.__inflight += 1;
    return fetch(...args).finally(() => { window.__inflight -= 1; });
  };
}"""
# a same-origin link's navigation, as the app's router does it (lib/router.js)
NAVIGATE = """(to) => {
  history.pushState(null, "", to);
  dispatchEvent(new PopStateEvent("popstate"));
}"""
# polls every 50 ms until no fetch is in flight and no "Loading…" shows, three times in a row
QUIET = """async (within) => {
  const end = Date.now() + within;
  for (let quiet = 0; quiet < 3; ) {
    if (Date.now() > end) throw new Error(`the page did not settle within ${within} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const busy = window.__inflight > 0 || document.body.innerText.includes("Loading…");
    quiet = busy ? 0 : quiet + 1;
  }
}"""


@dataclass
class Dashboard:
    live: Live
    browser: BrowserPage

    @property
    def page(self) -> Page:
        return self.browser.page

    @property
    def url(self) -> str:
        return self.live.url

    async def open(self, path: str = "/") -> None:
        response = await self.page.goto(self.url + path)
        assert response is not None
        assert response.status == 200

    async def sign_in(self, email: str, password: str, path: str = "/") -> None:
        await self.open(path)
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("button", name="Sign out")).to_be_visible(
            timeout=TIMEOUT
        )

    async def visit(self, path: str) -> None:
        """Goes to `path` inside the running app (the History API, as a link would), without
        reloading the document."""
        await self.page.evaluate(COUNT_FETCHES)
        await self.page.evaluate(NAVIGATE, path)

    async def settled(self) -> None:
        """Waits until the page has no API request in flight and shows no loading state, for a
        few consecutive checks (a request may start another when it ends)."""
        await self.page.evaluate(COUNT_FETCHES)
        await self.page.evaluate(QUIET, TIMEOUT)

    async def heading(self, text: str) -> None:
        await expect(self.page.get_by_role("heading", level=1, name=text)).to_be_visible(
            timeout=TIMEOUT
        )

    async def go(self, link: str, heading: str | None = None) -> None:
        """Follows a navigation link, as a person would."""
        await (
            self.page.get_by_role("navigation", name="Main")
            .get_by_role("link", name=link, exact=True)
            .click()
        )
        await self.heading(heading or link)

    async def axe(self) -> list[dict[str, object]]:
        """axe-core's serious and critical violations on the current page (axe is injected by
        the test only; the Dashboard never serves it)."""
        # through the DevTools protocol: the page's CSP (rightly) refuses an injected <script>;
        # once per document
        if not await self.page.evaluate("typeof axe !== 'undefined'"):
            await self.page.evaluate(AXE_SOURCE + "\n;undefined")
        result: list[dict[str, object]] = await self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations
                  .filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
            }"""
        )
        return result


async def call(live: Live, caller: Caller, method: str, path: str, **body: Any) -> Any:
    """The API, as the test's own client (arranging what the browser then shows)."""
    response = await live.http.request(
        method, path, headers=caller.headers, json=body if method != "GET" else None
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def allow_tools(live: Live, caller: Caller, *tools: str) -> str:
    """The default agent, allowed `tools`, with memory extraction off (it would ask the model)."""
    agents = await call(live, caller, "GET", "/api/agents")
    agent = next(a for a in agents["items"] if a["name"] == "default")
    await call(live, caller, "PUT", f"/api/agents/{agent['id']}/tools", tools=list(tools))
    await call(
        live, caller, "PUT", f"/api/memory/agents/{agent['id']}/settings", extractionEnabled=False
    )
    return str(agent["id"])
