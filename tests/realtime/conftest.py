"""Fixtures for the hub tests: a live Gateway on loopback and callers in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from sophon.settings import Settings
from tests.identity_helpers import Caller, setup_admin
from tests.realtime.live import Live, serve_live


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Pings every 0.2 s so keep-alive is seen quickly; rate limits stay on."""
    return settings.model_copy(update={"hub_keepalive_seconds": 0.2})


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[Live]:
    async with serve_live(app) as running:
        yield running


@pytest.fixture
async def owner(live: Live, data_dir: Path) -> Caller:
    """The first Admin of the default tenant."""
    return await setup_admin(live.http, data_dir)
