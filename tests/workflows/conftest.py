"""The running Gateway fixtures (`tests/turn_fixtures.py`) for the workflow tests."""

from tests.turn_fixtures import events, gateway, model, settings

__all__ = ["events", "gateway", "model", "settings"]
