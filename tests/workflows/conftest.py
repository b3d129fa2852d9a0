"""The running Gateway fixtures (`tests/turn_fixtures.py`) for the workflow tests; rate limits
off (the tests poll runs)."""

import pytest

from sophon.settings import Settings
from tests.turn_fixtures import events, gateway, model
from tests.turn_fixtures import settings as turn_settings

__all__ = ["events", "gateway", "model", "turn_settings"]


@pytest.fixture
def settings(turn_settings: Settings) -> Settings:
    return turn_settings.model_copy(update={"rate_limits_enabled": False})
