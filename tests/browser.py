"""Headless Chromium for browser tests (Swagger UI today, the Dashboard later), driven by
Playwright against Debian's `/usr/bin/chromium` (Playwright's own browser download cannot work on
our machines). Without Chromium or Playwright the tests skip with the reason, except under
`CI=true`, where they fail instead: CI must run them.

`browser_page` blocks every request that leaves loopback and lists it in `.blocked`, so a test
can prove a page works offline.

One Chromium per worker process (session scope), a fresh context (cookies, storage, cache) per
test: launching the browser and Playwright's driver cost more than most tests. Async fixtures and
tests that use it therefore run on the session's event loop (`pytest_collection_modifyitems`
below marks the tests; a fixture such a test uses declares `loop_scope="session"`)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route

CHROMIUM = Path(os.environ.get("SOPHON_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def missing_browser() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@dataclass
class BrowserPage:
    """A fresh page plus what it tried to fetch off loopback, and what it logged as errors."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests in a real browser run on the session loop, the one the shared browser lives on."""
    for item in items:
        if "chromium_browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium_browser() -> AsyncIterator[Browser]:
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser_page(chromium_browser: Browser) -> AsyncIterator[BrowserPage]:
    context = await chromium_browser.new_context()
    opened = BrowserPage(await context.new_page())

    async def loopback_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK or url.startswith("data:"):
            await route.continue_()
        else:
            opened.blocked.append(url)
            await route.abort()

    await context.route("**/*", loopback_only)
    opened.page.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    opened.page.on(
        "console",
        lambda msg: opened.errors.append(msg.text) if msg.type == "error" else None,
    )
    try:
        yield opened
    finally:
        await context.close()
