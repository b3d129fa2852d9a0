"""The hubs served under `/hubs/{name}`; a feature adds its own to `HUBS`."""

from __future__ import annotations

from sophon.realtime.hub import Hub
from sophon.realtime.hubs.approvals import ApprovalsHub
from sophon.realtime.hubs.chat import ChatHub
from sophon.realtime.hubs.notifications import NotificationsHub
from sophon.realtime.hubs.tasks import TasksHub

HUBS: list[type[Hub]] = [ChatHub, TasksHub, ApprovalsHub, NotificationsHub]
