"""Fixtures of the connection tests: a Gateway that may reach loopback (where the test URL's
receiver listens), and the receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sophon.settings import Settings
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_allow": "127.0.0.1"})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()
