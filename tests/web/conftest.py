"""Dashboard browser tests: a Gateway on a loopback port (SQLite: the pages do not depend on the
database, and the API they use is tested on both), a real headless Chromium from
`tests/browser.py`, and a screenshot of the page under `test-output/web/` when a test fails (kept
by CI as an artifact)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from fastapi import FastAPI

from sophon.app import create_app
from sophon.settings import Settings
from tests.browser import BrowserPage
from tests.conftest import fresh_sqlite
from tests.identity_helpers import PASSWORD, Caller, setup_admin
from tests.realtime.live import Live, serve_live
from tests.web.dashboard import Dashboard

OUTPUT = Path(os.environ.get("SOPHON_TEST_OUTPUT", Path(__file__).parents[2] / "test-output"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    return fresh_sqlite(sqlite_template, tmp_path / "data" / "data" / "sophon.db")


@pytest_asyncio.fixture(loop_scope="session")
async def live(settings: Settings) -> AsyncIterator[Live]:
    app: FastAPI = create_app(settings)
    async with serve_live(app) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def web_admin(live: Live, settings: Settings) -> Caller:
    """The first Admin, made through the API's setup flow."""
    return await setup_admin(live.http, settings.data)


@pytest_asyncio.fixture(loop_scope="session")
async def dashboard(
    request: pytest.FixtureRequest, live: Live, browser_page: BrowserPage
) -> AsyncIterator[Dashboard]:
    """The Dashboard in a fresh browser context; a failing test leaves a screenshot."""
    board = Dashboard(live, browser_page)
    yield board
    if request.node.stash.get(_FAILED, False):
        folder = OUTPUT / "web"
        folder.mkdir(parents=True, exist_ok=True)
        name = request.node.nodeid.replace("/", "_").replace("::", "-")
        await browser_page.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest_asyncio.fixture(loop_scope="session")
async def signed_in(dashboard: Dashboard, web_admin: Caller) -> Dashboard:
    """The Dashboard signed in as the Admin, on its start page."""
    await dashboard.sign_in(web_admin.email, PASSWORD)
    return dashboard
