"""The events a task publishes, addressed to its owner and its session group."""

from __future__ import annotations

from typing import Any

from sophon.platform.events import Audience, Event, EventName
from sophon.tasks.models import Task


def audience_of(task: Task) -> Audience:
    return Audience(
        user_ids=frozenset({task.user_id}) if task.user_id else frozenset(),
        session_id=task.session_id,
    )


def task_event(task: Task, name: EventName, **payload: Any) -> Event:
    """`payload` plus the task's ids and kind (`taskId, kind, sessionId, agentId, userId`)."""
    body = {
        "taskId": task.id,
        "kind": task.kind,
        "sessionId": task.session_id,
        "agentId": task.agent_id,
        "userId": task.user_id,
        **payload,
    }
    return Event(name.value, body, tenant_id=task.tenant_id, audience=audience_of(task))


CANCEL_REQUESTED = "TaskCancelRequested"
"""Internal: tells the replica running a task to stop it (no hub forwards it)."""


def cancel_requested(task: Task) -> Event:
    return Event(
        CANCEL_REQUESTED, {"taskId": task.id}, tenant_id=task.tenant_id, audience=Audience()
    )
