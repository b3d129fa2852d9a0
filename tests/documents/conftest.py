"""Fixtures for document tests: no background workers (tests run the pipeline themselves), and
the shared loopback model server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sophon.settings import Settings
from tests.llm.fakes import FakeServer


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_workers": False})


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    server.start()
    yield server
    server.stop()
