"""Dashboard browser tests: a Gateway on a loopback port (SQLite: the pages do not depend on the
database, and the API they use is tested on both), a real headless Chromium from
`tests/browser.py`, and a screenshot of the page under `test-output/web/` when a test fails (kept
by CI as an artifact).

A test marked `shared_gateway` gets, as `live`, one Gateway per worker process with its Admin
made once (`web_admin` then signs in again): for tests that only need a Gateway with an Admin
and leave nothing behind that another such test could trip over (names of their own, no state
switched). Starting a Gateway per test costs about a second; everything else gets a fresh one."""

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
from tests.identity_helpers import PASSWORD, Caller, login, setup_admin
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`live` runs on the session loop (as the shared browser does): so must a test using it
    without the browser."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "live" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "shared_gateway: runs against the worker's shared Gateway (tests/web/conftest.py)",
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_live(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Live]:
    """The worker's shared Gateway, its first Admin made (see the module's docstring)."""
    data = tmp_path_factory.mktemp("shared") / "data"
    with pytest.MonkeyPatch.context() as env:  # as `_isolated_env` does for a test's own
        for key in [k for k in os.environ if k.startswith("SOPHON_") and k != "SOPHON_TEST_PG"]:
            env.delenv(key)
        settings = Settings(
            data=data,
            database_url=fresh_sqlite(sqlite_template, data / "data" / "sophon.db"),
            migrate_on_start=False,
            login_slowdown_ms=0,
            argon2_memory_kib=64,
            argon2_time_cost=1,
            argon2_parallelism=1,
        )
    async with serve_live(create_app(settings)) as running:
        await setup_admin(running.http, settings.data)
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def live(request: pytest.FixtureRequest, shared_live: Live) -> AsyncIterator[Live]:
    if request.node.get_closest_marker("shared_gateway"):
        yield shared_live
        return
    settings: Settings = request.getfixturevalue("settings")
    app: FastAPI = create_app(settings)
    async with serve_live(app) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="session")
async def web_admin(request: pytest.FixtureRequest, live: Live) -> Caller:
    """The first Admin, made through the API's setup flow (on the shared Gateway: signed in)."""
    if request.node.get_closest_marker("shared_gateway"):
        return await login(live.http, "admin@example.com")
    settings: Settings = request.getfixturevalue("settings")
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
