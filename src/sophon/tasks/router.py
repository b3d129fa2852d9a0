"""`/api/tasks`: the task ledger — active and finished tasks, one task in detail (optionally
waiting for it to finish), and cooperative cancellation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Query

from sophon.chat import service as chat
from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires_any
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import error_responses
from sophon.tasks import service as tasks
from sophon.tasks.schemas import TaskDetailOut, TaskOut
from sophon.tasks.views import task_detail, task_out

router = api_router("/tasks", tags=["Tasks"])
# one's own tasks with UseChat, every task of the tenant with the other (see the service)
view_tasks = requires_any(P.USE_CHAT, P.VIEW_ACTIVE_TASKS)
MAX_WAIT_SECONDS = 60


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


@router.get("/active", operation_id="listActiveTasks")
@view_tasks
async def list_active(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[TaskOut]:
    """Queued and running tasks: the caller's own, or the tenant's with `ViewActiveTasks`."""
    scope = f"tasks-active:{principal.user_id}"
    return await page_of(gateway.paginator, db, tasks.active(principal), page, scope, task_out)


@router.get("/history", operation_id="listTaskHistory")
@view_tasks
async def list_history(
    db: DbDep,
    gateway: GatewayDep,
    page: PageDep,
    principal: PrincipalDep,
    status: Annotated[Literal["Completed", "Failed", "Cancelled"] | None, Query()] = None,
    agent_id: Annotated[str | None, Query(alias="agentId")] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[TaskOut]:
    """Finished tasks, newest first; `text` searches the description."""
    where = tasks.HistoryFilter(status, agent_id, _utc(since), _utc(until), text)
    scope = f"tasks-history:{principal.user_id}"
    stmt = tasks.history(principal, where)
    return await page_of(gateway.paginator, db, stmt, page, scope, task_out)


@router.get("/{task_id}", operation_id="getTask", responses=error_responses(404))
@view_tasks
async def get_task(
    task_id: str,
    db: DbDep,
    gateway: GatewayDep,
    principal: PrincipalDep,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT_SECONDS, description="Seconds to wait for the task to finish."),
    ] = 0,
) -> TaskDetailOut:
    """One task: status, timing, token usage, tool calls, plan, log and child tasks."""
    if wait:
        task = await tasks.wait_finished(
            db, gateway.bus, principal, task_id, wait, gateway.stopping
        )
    else:
        task = await tasks.get(db, principal, task_id)
    calls = await chat.tool_messages(db, task.id)
    return task_detail(task, calls, await tasks.children_of(db, task.id))


@router.post("/{task_id}/cancel", operation_id="cancelTask", responses=error_responses(404, 409))
@requires_any(P.USE_CHAT, P.CANCEL_TASKS, rate="approval")
async def cancel_task(task_id: str, db: DbDep, principal: PrincipalDep) -> TaskOut:
    """Cancels cooperatively: a queued task at once; a running one at its next cancellation
    point (a running tool call finishes, queued ones are skipped). Finished → 409; another
    user's task needs `CancelTasks`."""
    return task_out(await tasks.cancel(db, principal, task_id))
