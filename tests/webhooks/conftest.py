"""Fixtures of the webhook tests: a running Gateway that may reach loopback, a short retry
schedule, and a loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sophon.settings import Settings
from tests.turn_fixtures import agent_id, events, gateway, model
from tests.webhooks.receiver import Receiver

__all__ = ["agent_id", "events", "gateway", "model", "receiver", "settings"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "outbound_allow": "127.0.0.1",
            "webhook_retry_schedule": [0.05, 0.05, 0.05],
            "webhook_max_body_bytes": 4096,
            "webhook_inbound_per_minute": 10,
            "task_lease_seconds": 3600,
            "scheduler_poll_seconds": 3600,
            "queue_poll_seconds": 0.1,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()
