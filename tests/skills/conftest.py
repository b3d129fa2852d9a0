"""The chat runtime fixtures (`tests/turn_fixtures.py`) for the agent-side skill tests."""

from tests.turn_fixtures import events, gateway, model, settings

__all__ = ["events", "gateway", "model", "settings"]
