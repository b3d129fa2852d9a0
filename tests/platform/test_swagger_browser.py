"""Swagger UI renders the Gateway's OpenAPI 3.1 document in a real browser, offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from fastapi import FastAPI

from sophon.app import create_app
from sophon.settings import Settings
from tests.browser import BrowserPage
from tests.conftest import fresh_sqlite
from tests.realtime.live import Live, serve_live


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The page does not depend on the database: SQLite only."""
    return fresh_sqlite(sqlite_template, tmp_path / "swagger.db")


@pytest_asyncio.fixture(loop_scope="session")  # the browser's loop (tests/browser.py)
async def live(settings: Settings) -> AsyncIterator[Live]:
    app: FastAPI = create_app(settings)
    async with serve_live(app) as running:
        yield running


async def test_swagger_ui_renders_the_openapi_document(
    live: Live, browser_page: BrowserPage
) -> None:
    spec = (await live.http.get("/swagger/v1/swagger.json")).json()
    assert spec["openapi"].startswith("3.1")

    response = await browser_page.page.goto(f"{live.url}/swagger")
    assert response is not None
    assert response.status == 200
    operation = browser_page.page.locator("#operations-Public-getHealth")
    await operation.wait_for(state="visible", timeout=30_000)
    assert "/api/health" in await operation.inner_text()
    assert await browser_page.page.locator(".opblock").count() > 10
    assert await browser_page.page.locator("text=Unable to render this definition").count() == 0
    assert browser_page.blocked == []
    assert browser_page.errors == []
