"""The chat runtime fixtures (`tests/turn_fixtures.py`) for the tests of this folder."""

from tests.turn_fixtures import agent_id, events, gateway, model, planned_note, settings

__all__ = ["agent_id", "events", "gateway", "model", "planned_note", "settings"]
