"""Runs: starting one (a task of kind `workflow` in the ledger plus its queue job), reading
runs and their node records, cancelling and retrying. HTTP-free; the engine moves runs on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from sophon.approvals import service as approvals
from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.platform import queue
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.events import EventName, after_commit
from sophon.platform.ids import new_id
from sophon.platform.principal import Principal
from sophon.tasks import service as tasks
from sophon.tasks.models import Task, TaskStatus
from sophon.tenants import budget
from sophon.workflows.events import WAKE_JOB, run_event
from sophon.workflows.models import (
    RUN_FINISHED,
    ApprovalState,
    NodeStatus,
    RunStatus,
    Workflow,
    WorkflowNodeRun,
    WorkflowRun,
)

JOB_ATTEMPTS = 5
CANCELLED_BY_USER = "The run was cancelled."


@dataclass(frozen=True)
class Started:
    run_id: str
    task_id: str


def _job(db: AsyncSession, run_id: str, run_after: Any = None) -> queue.Job:
    return queue.enqueue(
        db,
        WAKE_JOB,
        {"runId": run_id},
        serial_key=f"wfrun:{run_id}",
        run_after=run_after,
        max_attempts=JOB_ATTEMPTS,
    )


@exempt("the engine scheduling its own next step")
async def continue_later(
    db: AsyncSession, run: WorkflowRun, task: Task | None, when: datetime | None = None
) -> None:
    """Makes sure a job will move the run on at `when` (now by default): the task's queued job is
    brought forward if it is due later, else a new job is queued and the task follows it. One
    queued job per run: jobs of a run are serial, and a later one never overtakes it."""
    moment = when or utcnow()
    if task is None:
        task = await tasks.lock(db, run.task_id)
    if task is not None and task.job_id and await queue.bring_forward(db, task.job_id, moment):
        return
    job = _job(db, run.id, moment)
    if task is not None:
        tasks.rebind_job(task, job.id)


@exempt("the engine scheduling its own next step")
async def wake(db: AsyncSession, run: WorkflowRun) -> None:
    """Something a waiting run waits for happened: look at it now."""
    if run.status not in RUN_FINISHED:
        await continue_later(db, run, None)


def runnable(workflow: Workflow) -> None:
    """Refuses a trigger the workflow must ignore (409)."""
    if workflow.paused:
        raise Conflict("The workflow is paused; resume it first.", {"workflowId": workflow.id})
    if workflow.approval not in (ApprovalState.NOT_NEEDED.value, ApprovalState.APPROVED.value):
        raise Conflict(
            "The workflow has steps at Medium risk or above (or an agent wrote it): it runs "
            "once its activation is approved (enable it to ask).",
            {"workflowId": workflow.id, "approvalId": workflow.approval_id},
        )


MODEL_NODES = frozenset({"action.llm_prompt"})


def uses_models(nodes: list[dict[str, Any]]) -> bool:
    """Whether any node (or a loop's or parallel branch's inline step) calls a model."""
    for node in nodes:
        config = node.get("config") or {}
        inner = [config["do"]] if isinstance(config.get("do"), dict) else []
        inner += [b for b in config.get("branches") or [] if isinstance(b, dict)]
        if node.get("type") in MODEL_NODES or uses_models(inner):
            return True
    return False


@audited("workflow.trigger")
async def start(
    db: AsyncSession,
    actor: Principal | audit.Actor,
    workflow: Workflow,
    *,
    user_id: str | None,
    trigger: dict[str, Any],
    input_: Any,
    parent: WorkflowRun | None = None,
    dedupe_key: str | None = None,
) -> Started:
    """A Queued run of the workflow's current version, its task and its job, in the caller's
    transaction. `user_id` is whose rights it runs with. A workflow with model nodes does not
    start once the tenant's daily token budget is used up (429 `budget_exceeded`)."""
    runnable(workflow)
    if uses_models(list(workflow.definition.get("nodes") or [])):
        await budget.require_tokens(db, workflow.tenant_id)
    run_id = new_id("run")
    job = _job(db, run_id)
    task = tasks.open_task(
        db,
        kind="workflow",
        user_id=user_id,
        description=f"workflow {workflow.name}",
        job_id=job.id,
        parent_task_id=parent.task_id if parent is not None else None,
    )
    definition = dict(workflow.definition)
    body = input_ if trigger.get("type") in ("webhook", "event") else None
    run = WorkflowRun(
        id=run_id,
        tenant_id=task.tenant_id,
        workflow_id=workflow.id,
        version=workflow.version,
        definition=definition,
        status=RunStatus.QUEUED.value,
        task_id=task.id,
        user_id=user_id,
        trigger={**trigger, **({"body": body} if body is not None else {})},
        input=input_ if isinstance(input_, dict) or input_ is None else {"value": input_},
        state={
            "vars": dict(definition.get("vars") or {}),
            "depth": (parent.state.get("depth", 0) + 1) if parent is not None else 0,
        },
        parent_run_id=parent.id if parent is not None else None,
        dedupe_key=dedupe_key,
    )
    db.add(run)
    if dedupe_key is not None:
        try:
            async with db.begin_nested():
                await db.flush()
        except IntegrityError:
            raise Conflict("This event already started a run.", {"dedupeKey": dedupe_key}) from None
    await audit.record(
        db,
        actor,
        "workflow.trigger",
        ("workflow", workflow.id),
        details={"runId": run.id, "trigger": trigger.get("type"), "version": workflow.version},
    )
    return Started(run.id, task.id)


def runs_of(workflow_id: str, status: str | None = None) -> Select[WorkflowRun]:
    stmt = select(WorkflowRun).where(WorkflowRun.workflow_id == workflow_id)
    if status:
        stmt = stmt.where(WorkflowRun.status == status)
    return stmt


async def get_run(db: AsyncSession, workflow_id: str, run_id: str) -> WorkflowRun:
    run = await db.scalar(
        select(WorkflowRun).where(WorkflowRun.id == run_id, WorkflowRun.workflow_id == workflow_id)
    )
    if run is None:
        raise NotFound("No such run.", {"runId": run_id})
    return run


async def node_records(
    db: AsyncSession, run_id: str, *, with_input: bool = True
) -> list[WorkflowNodeRun]:
    """The run's node records in order; without `input` (the engine never reads a stored one,
    and it is the largest column) when `with_input` is False."""
    stmt = select(WorkflowNodeRun).where(WorkflowNodeRun.run_id == run_id)
    if not with_input:
        stmt = stmt.options(defer(WorkflowNodeRun.input, raiseload=True))
    return list((await db.scalars(stmt.order_by(WorkflowNodeRun.id))).all())


@exempt("the engine's bookkeeping; cancel and trigger are audited where they are asked")
async def end_run(
    db: AsyncSession,
    run: WorkflowRun,
    status: RunStatus,
    error: dict[str, Any] | None = None,
    output: Any = None,
) -> None:
    """A run ends with its task; approvals it waited for close; its events follow the commit."""
    now = utcnow()
    run.status = status.value
    run.finished_at = now
    run.error = error
    if output is not None:
        run.state = {**run.state, "output": output}
    task = await tasks.lock(db, run.task_id)
    if task is not None and task.status not in (
        TaskStatus.COMPLETED.value,
        TaskStatus.FAILED.value,
        TaskStatus.CANCELLED.value,
    ):
        fields: dict[str, Any] = {}
        if status is RunStatus.FAILED and error:
            fields = {
                "error": str(error.get("message", ""))[:2000],
                "error_code": str(error.get("code", "node_failed"))[:50],
            }
        task_status = {
            RunStatus.COMPLETED: TaskStatus.COMPLETED,
            RunStatus.FAILED: TaskStatus.FAILED,
        }.get(status, TaskStatus.CANCELLED)
        tasks.finish(db, task, task_status, **fields)
    await approvals.withdraw_for_task(db, run.task_id, approvals.TASK_ENDED)
    for record in (
        await db.scalars(
            select(WorkflowNodeRun).where(
                WorkflowNodeRun.run_id == run.id,
                WorkflowNodeRun.status.in_((NodeStatus.RUNNING.value, NodeStatus.WAITING.value)),
            )
        )
    ).all():
        record.status = NodeStatus.FAILED.value
        record.finished_at = now
        record.error = {"code": "run_ended", "message": f"The run ended {status.value}."}
    if status is RunStatus.CANCELLED:  # sub-workflows end with their parent
        for child in (
            await db.scalars(
                select(WorkflowRun).where(
                    WorkflowRun.parent_run_id == run.id, WorkflowRun.status.not_in(RUN_FINISHED)
                )
            )
        ).all():
            if child.status == RunStatus.RUNNING.value:
                child.state = {**child.state, "cancelRequested": True}
            else:
                await end_run(
                    db,
                    child,
                    RunStatus.CANCELLED,
                    {"code": "parent_cancelled", "message": "The parent run ended."},
                )
    name = {
        RunStatus.COMPLETED: EventName.WORKFLOW_RUN_COMPLETED,
        RunStatus.FAILED: EventName.WORKFLOW_RUN_FAILED,
    }.get(status, EventName.WORKFLOW_RUN_FAILED)
    after_commit(db, run_event(run, name, error=error))


@audited("workflow.cancel")
async def cancel(
    db: AsyncSession, principal: Principal, workflow_id: str, run_id: str
) -> WorkflowRun:
    """Queued, Waiting or Paused runs end Cancelled at once; a Running one stops at its next
    node boundary (the node running finishes). A finished run is a 409."""
    run = await get_run(db, workflow_id, run_id)
    await db.refresh(run, with_for_update=True)
    if run.status in RUN_FINISHED:
        raise Conflict(f"The run is already {run.status}.", {"status": run.status})
    was = run.status
    if run.status == RunStatus.RUNNING.value:
        run.state = {**run.state, "cancelRequested": True}
        task = await tasks.lock(db, run.task_id)
        if task is not None:
            task.cancel_requested = True
    else:
        await end_run(
            db, run, RunStatus.CANCELLED, {"code": "cancelled", "message": CANCELLED_BY_USER}
        )
    await audit.record(
        db,
        principal,
        "workflow.cancel",
        ("workflow", workflow_id),
        details={"runId": run.id, "status": was},
    )
    return run


@audited("workflow.trigger")
async def retry(db: AsyncSession, principal: Principal, workflow: Workflow, run_id: str) -> Started:
    """A new run of the failed run's version that keeps every node the failed run completed
    (they do not run again) and starts again from the node that failed."""
    old = await get_run(db, workflow.id, run_id)
    if old.status not in (RunStatus.FAILED.value, RunStatus.CANCELLED.value):
        raise Conflict("Only a Failed or Cancelled run can be retried.", {"status": old.status})
    if uses_models(list(old.definition.get("nodes") or [])):
        await budget.require_tokens(db, workflow.tenant_id)
    run_id_new = new_id("run")
    job = _job(db, run_id_new)
    task = tasks.open_task(
        db,
        kind="workflow",
        user_id=principal.user_id,
        description=f"workflow {workflow.name} (retry)",
        job_id=job.id,
    )
    run = WorkflowRun(
        id=run_id_new,
        tenant_id=task.tenant_id,
        workflow_id=workflow.id,
        version=old.version,
        definition=old.definition,
        status=RunStatus.QUEUED.value,
        task_id=task.id,
        user_id=principal.user_id,
        trigger={**old.trigger, "retryOf": old.id},
        input=old.input,
        state={"vars": old.state.get("vars", {}), "depth": old.state.get("depth", 0)},
        parent_run_id=old.parent_run_id,
    )
    db.add(run)
    latest: dict[str, WorkflowNodeRun] = {}
    for record in await node_records(db, old.id):
        latest[record.node_id] = record
    for record in latest.values():
        if record.status in (NodeStatus.COMPLETED.value, NodeStatus.SKIPPED.value):
            db.add(
                WorkflowNodeRun(
                    id=new_id("wnr"),
                    run_id=run.id,
                    node_id=record.node_id,
                    node_type=record.node_type,
                    attempt=record.attempt,
                    status=record.status,
                    input=record.input,
                    output=record.output,
                    state={**record.state, "reusedFrom": old.id},
                    error=None,
                    started_at=record.started_at,
                    finished_at=record.finished_at,
                )
            )
    await audit.record(
        db,
        principal,
        "workflow.trigger",
        ("workflow", workflow.id),
        details={"runId": run.id, "trigger": "retry", "retryOf": old.id},
    )
    return Started(run.id, task.id)


async def find_by_task(db: AsyncSession, task_id: str) -> WorkflowRun | None:
    return await db.scalar(select(WorkflowRun).where(WorkflowRun.task_id == task_id))


async def active_runs(db: AsyncSession, workflow_id: str) -> list[WorkflowRun]:
    stmt = select(WorkflowRun).where(
        WorkflowRun.workflow_id == workflow_id, WorkflowRun.status.not_in(RUN_FINISHED)
    )
    return list((await db.scalars(stmt)).all())
