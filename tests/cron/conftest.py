"""Cron tests: the chat runtime fixtures, a scheduler that fires only when a test ticks it, and
loopback allowed for webhook targets."""

from __future__ import annotations

import pytest

from sophon.settings import Settings
from tests.turn_fixtures import agent_id, events, gateway, model

__all__ = ["agent_id", "events", "gateway", "model"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "task_lease_seconds": 3600,
            "scheduler_poll_seconds": 3600,
            "queue_poll_seconds": 0.5,
            "cron_enabled": False,
            "outbound_allow": "127.0.0.1",
            "heartbeat_enabled": False,
            # tests move the clock by hours: sign-ins must outlive that
            "session_idle_minutes": 24 * 60,
            "access_token_minutes": 24 * 60,
        }
    )
