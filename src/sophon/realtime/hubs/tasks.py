"""`/hubs/tasks`: the lifecycle of the user's own tasks, and of every task in the tenant for
holders of `ViewActiveTasks`; `StreamTask(taskId)` streams one task's events until it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from sophon.platform.events import Event, EventName
from sophon.platform.permissions import Permission
from sophon.realtime.connection import Connection
from sophon.realtime.hub import Hub, hub_method
from sophon.realtime.hubs.args import text_id
from sophon.tasks import service as tasks
from sophon.tasks.models import FINISHED

LIFECYCLE = frozenset(
    name.value
    for name in (
        EventName.TASK_QUEUED,
        EventName.TASK_STARTED,
        EventName.AGENT_STATUS,
        EventName.TASK_COMPLETED,
        EventName.TASK_FAILED,
        EventName.TASK_CANCELLED,
        EventName.WORKFLOW_RUN_STARTED,
        EventName.WORKFLOW_NODE_STARTED,
        EventName.WORKFLOW_NODE_COMPLETED,
        EventName.WORKFLOW_RUN_WAITING,
        EventName.WORKFLOW_RUN_COMPLETED,
        EventName.WORKFLOW_RUN_FAILED,
    )
)
ENDINGS = frozenset(
    name.value
    for name in (EventName.TASK_COMPLETED, EventName.TASK_FAILED, EventName.TASK_CANCELLED)
)
STREAM_QUEUE = 1000


class TasksHub(Hub):
    name = "tasks"
    forwards = LIFECYCLE
    privileged = Permission.VIEW_ACTIVE_TASKS.value
    requires = (Permission.USE_CHAT, Permission.VIEW_ACTIVE_TASKS)

    def recipients(self, event: Event) -> Iterable[Connection]:
        return self.owner_or_privileged(event)

    @hub_method("StreamTask")
    async def stream_task(self, conn: Connection, task_id: Any) -> AsyncIterator[dict[str, Any]]:
        """`{event, payload}` items for one visible task; ends after its last event (at once
        when it has already finished)."""
        wanted = text_id(task_id, "taskId")
        tenant_id = conn.tenant_id

        def mine(event: Event) -> bool:
            return (
                event.tenant_id == tenant_id
                and event.name in LIFECYCLE
                and event.payload.get("taskId") == wanted
            )

        # subscribed before the task is read, so no event falls between the two
        with_events = self.gateway.bus.subscribe(mine, max_queue=STREAM_QUEUE)
        async with with_events:
            async with self.transaction(conn, readonly=True) as db:
                task = await tasks.get(db, conn.principal, wanted)
                finished = task.status in FINISHED
            if finished:
                return
            async for event in with_events:
                yield {"event": event.name, "payload": dict(event.payload)}
                if event.name in ENDINGS:
                    return
