"""`/hubs/notifications`: generic notices for a user (heartbeat alerts, system notices)."""

from __future__ import annotations

from sophon.platform.events import EventName
from sophon.realtime.hub import Hub


class NotificationsHub(Hub):
    name = "notifications"
    forwards = frozenset(
        {EventName.NOTIFICATION.value, EventName.CRON_FIRED.value, EventName.CRON_FAILED.value}
    )
