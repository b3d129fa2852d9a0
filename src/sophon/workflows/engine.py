"""The durable engine: one queue job (`workflow.run`) moves a run on node by node. Each node's
start and result are committed before the next node starts; a job interrupted by a crash is
taken over by another worker, which runs again only the node that was running. Waits (timers,
approvals, sub-workflows, retry back-off) end the job and queue the next one for later: no
worker is held while a run waits."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.identity.auth import principals
from sophon.platform.clock import iso, utcnow
from sophon.platform.errors import DomainError
from sophon.platform.events import EventName, after_commit
from sophon.platform.permissions import Permission
from sophon.platform.queue import ClaimedJob
from sophon.platform.queue_worker import Handler
from sophon.tasks import service as tasks
from sophon.tasks.models import FINISHED as TASK_FINISHED
from sophon.tasks.models import Task, TaskStatus
from sophon.workflows import expressions, graph
from sophon.workflows import run_service as runs
from sophon.workflows.bookkeeping import Planned, RunBook, latest_of, masked
from sophon.workflows.events import WAKE_JOB, run_event
from sophon.workflows.executors import EXECUTORS, NodeFailed, Result, Services, Step
from sophon.workflows.models import (
    RUN_FINISHED,
    NodeStatus,
    RunStatus,
    Workflow,
    WorkflowNodeRun,
    WorkflowRun,
)

log = logging.getLogger("sophon.workflows")
RIGHTLESS = frozenset({"data.transform", "logic.if_else", "logic.switch", "logic.wait"})
"""Node types that use no right of the run's user: no permission check before them."""


@dataclass(frozen=True)
class Loaded:
    """What settling a node already read under the run's lock, for planning the next one."""

    run: WorkflowRun
    task: Task | None
    records: list[WorkflowNodeRun]


class WorkflowEngine(RunBook):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.database = services.database
        services.start_child = self._start_child

    def job_handlers(self) -> dict[str, Handler]:
        return {WAKE_JOB: self.handle}

    # --- the job ---------------------------------------------------------------------------

    async def handle(self, job: ClaimedJob) -> dict[str, Any] | None:
        run_id = str(job.payload["runId"])
        steps = 0
        planned = await self.database.uninterrupted(
            lambda db: self._plan(db, run_id), tenant_id=job.tenant_id
        )
        while planned is not None:
            steps += 1
            outcome = await self._execute(planned)
            # the node's result and the choice of the next node: one transaction
            planned = await self.database.uninterrupted(
                functools.partial(self._settle_then_plan, planned=planned, outcome=outcome),
                tenant_id=job.tenant_id,
            )
        return {"steps": steps}

    async def _settle_then_plan(
        self, db: AsyncSession, planned: Planned, outcome: Result | NodeFailed
    ) -> Planned | None:
        """The run, its task and its node records are read once for both halves."""
        run = await db.get(WorkflowRun, planned.run_id, with_for_update=True)
        if run is None:
            return None
        task = await tasks.lock(db, run.task_id)
        records = await runs.node_records(db, run.id, with_input=False)
        await self._settle(db, planned, outcome, run, task, records)
        return await self._plan(db, run.id, Loaded(run, task, records))

    async def _execute(self, planned: Planned) -> Result | NodeFailed:
        node = planned.node

        async def checkpoint(state: dict[str, Any]) -> None:
            async def save(db: AsyncSession) -> None:
                record = await db.get(WorkflowNodeRun, planned.record_id, with_for_update=True)
                if record is not None:
                    record.state = {**record.state, **state}

            await self.database.uninterrupted(save, tenant_id=planned.tenant_id)

        step = Step(
            services=self.services,
            tenant_id=planned.tenant_id,
            run_id=planned.run_id,
            task_id=planned.task_id,
            user_id=planned.user_id,
            node_id=node["id"],
            type=node["type"],
            config=node.get("config") or {},
            scope=planned.scope,
            state=planned.state,
            checkpoint=checkpoint,
            trigger_type=planned.trigger_type,
        )
        timeout = node.get("timeoutSeconds")
        try:
            async with asyncio.timeout(float(timeout) if timeout else None):
                return await EXECUTORS[node["type"]](step)
        except NodeFailed as failed:
            return failed
        except expressions.ExpressionError as error:
            return NodeFailed(
                f"Node {node['id']}: {error}", "expression_error", {"expression": error.expression}
            )
        except TimeoutError:
            return NodeFailed(f"The node did not finish within {timeout} s.", "timeout")
        except DomainError as error:
            return NodeFailed(error.message, error.code)
        except Exception as error:  # a node's failure is the run's to handle, not the worker's
            log.exception("workflow node %s of run %s failed", node["id"], planned.run_id)
            return NodeFailed(f"{type(error).__name__}: {error}", "internal_error")

    # --- deciding what runs next (one transaction) -------------------------------------------

    async def _plan(
        self, db: AsyncSession, run_id: str, loaded: Loaded | None = None
    ) -> Planned | None:
        if loaded is not None:
            run, task = loaded.run, loaded.task
        else:
            found = await db.get(WorkflowRun, run_id, with_for_update=True)
            if found is None or found.status in RUN_FINISHED:
                return None
            run, task = found, await tasks.lock(db, found.task_id)
        if run.status in RUN_FINISHED:
            return None
        if task is None or task.status in TASK_FINISHED:
            await runs.end_run(
                db,
                run,
                RunStatus.CANCELLED,
                {"code": "task_ended", "message": "The run's task ended."},
            )
            return None
        if task.cancel_requested or run.state.get("cancelRequested"):
            await runs.end_run(
                db,
                run,
                RunStatus.CANCELLED,
                {"code": "cancelled", "message": runs.CANCELLED_BY_USER},
            )
            return None
        # only what is needed: not the definition (the run has its own)
        workflow = (
            await db.execute(
                select(Workflow.paused, Workflow.secrets).where(Workflow.id == run.workflow_id)
            )
        ).first()
        if workflow is None:
            await runs.end_run(
                db,
                run,
                RunStatus.FAILED,
                {"code": "workflow_deleted", "message": "The workflow is gone."},
            )
            return None
        if workflow.paused:
            run.status = RunStatus.PAUSED.value
            await runs.continue_later(db, run, task, utcnow() + self._wake())
            return None
        if run.status != RunStatus.RUNNING.value or task.status == TaskStatus.QUEUED.value:
            if not await self._may_run(db, run):
                return None
            first = run.status == RunStatus.QUEUED.value
            run.status = RunStatus.RUNNING.value
            run.started_at = run.started_at or utcnow()
            if task.status == TaskStatus.QUEUED.value or first:
                tasks.start(db, task)
            if first:
                after_commit(db, run_event(run, EventName.WORKFLOW_RUN_STARTED))
        records = (
            loaded.records
            if loaded is not None
            else await runs.node_records(db, run.id, with_input=False)
        )
        planned = await self._next(db, run, task, latest_of(records))
        if (
            planned is not None
            and planned.node["type"] not in RIGHTLESS
            and not await self._may_act(db, run, planned)
        ):
            return None
        if planned is not None and workflow.secrets:
            values = {
                name: self.services.vault.decrypt(blob, f"{run.workflow_id}:{name}")
                for name, blob in workflow.secrets.items()
            }
            planned.scope["secrets"] = values
            planned.secrets = tuple(v for v in values.values() if len(v) >= 4)
        return planned

    async def _may_run(self, db: AsyncSession, run: WorkflowRun) -> bool:
        """A run without a user to act for (its owner was deleted) ends."""
        if run.user_id is None:
            await runs.end_run(
                db,
                run,
                RunStatus.FAILED,
                {
                    "code": "not_authorized",
                    "message": "The run has no user to act for (its owner was deleted).",
                },
            )
            return False
        return True

    async def _may_act(self, db: AsyncSession, run: WorkflowRun, planned: Planned) -> bool:
        """A run never has more rights than its user has now (whoever triggered it; the owner
        for cron, webhook and event triggers): before each node that acts (a tool, a model, an
        API, a message, an approval, a sub-workflow), the user's standing is read again; a user
        suspended, no longer a member or without `ManageWorkflows` fails that node and the run."""
        problem: str | None = None
        try:
            actor = await principals.for_user(db, str(run.user_id), run.tenant_id)
            if not actor.can(Permission.MANAGE_WORKFLOWS):
                problem = (
                    f"The run's user no longer has {Permission.MANAGE_WORKFLOWS.value}; "
                    "the workflow can't act for them."
                )
        except DomainError as error:
            problem = f"The run's user can't act here any more: {error.message}"
        if problem is None:
            return True
        failure = {"code": "not_authorized", "message": problem}
        record = await db.get(WorkflowNodeRun, planned.record_id)
        if record is not None:
            record.status = NodeStatus.FAILED.value
            record.finished_at = utcnow()
            record.error = failure
        await runs.end_run(db, run, RunStatus.FAILED, {"nodeId": planned.node["id"], **failure})
        return False

    async def _next(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        task: Task,
        latest: dict[str, WorkflowNodeRun],
    ) -> Planned | None:
        nodes = {n["id"]: n for n in run.definition["nodes"]}
        while True:
            walk_records: dict[str, graph.Record] = {}
            for node_id, record in latest.items():
                settled = await self._settled(db, run, task, nodes[node_id], record)
                if settled is None:
                    return None  # the run ended, or waits
                if isinstance(settled, Planned):
                    return settled
                walk_records[node_id] = settled
            step = graph.walk(run.definition, walk_records)
            if step.skipped:
                for node_id in step.skipped:
                    latest[node_id] = self._record(db, run, nodes[node_id], 1, NodeStatus.SKIPPED)
                continue
            if step.ready:
                node = nodes[step.ready[0]]
                record = self._record(db, run, node, 1, NodeStatus.RUNNING)
                return self._planned(db, run, node, record, latest)
            outputs = {
                n: latest[n].output
                for n in graph.leaves(run.definition)
                if n in latest and latest[n].status == NodeStatus.COMPLETED.value
            }
            await runs.end_run(db, run, RunStatus.COMPLETED, output=outputs)
            return None

    async def _settle(
        self,
        db: AsyncSession,
        planned: Planned,
        outcome: Result | NodeFailed,
        run: WorkflowRun,
        task: Task | None,
        records: list[WorkflowNodeRun],
    ) -> None:
        record = next((r for r in records if r.id == planned.record_id), None)
        if record is None or run.status in RUN_FINISHED or task is None:
            return
        if record.status != NodeStatus.RUNNING.value:
            return
        if planned.secrets:  # no record (nor a later node) ever holds a secret's value
            if isinstance(outcome, NodeFailed):
                outcome = NodeFailed(
                    masked(outcome.message, planned.secrets),
                    outcome.code,
                    masked(outcome.output, planned.secrets),
                )
            else:
                outcome.output = masked(outcome.output, planned.secrets)
                outcome.vars = masked(outcome.vars, planned.secrets)
        if isinstance(outcome, NodeFailed):
            await self._fail(db, run, task, planned.node, record, outcome)
            return
        if outcome.wait is not None:
            record.status = NodeStatus.WAITING.value
            record.state = {**record.state, **outcome.wait.state}
            run.status = RunStatus.WAITING.value
            await runs.continue_later(
                db,
                run,
                task,
                outcome.wait.until
                if not outcome.wait.recheck
                else min(outcome.wait.until, utcnow() + self._wake()),
            )
            after_commit(
                db,
                run_event(
                    run,
                    EventName.WORKFLOW_RUN_WAITING,
                    nodeId=record.node_id,
                    until=iso(outcome.wait.until),
                ),
            )
            return
        if outcome.vars:
            try:
                updates = expressions.resolve(outcome.vars, planned.scope)
            except expressions.ExpressionError as error:
                await self._fail(
                    db, run, task, planned.node, record, NodeFailed(str(error), "expression_error")
                )
                return
            run.state = {**run.state, "vars": {**run.state.get("vars", {}), **updates}}
        self._finish(db, run, record, outcome.output, outcome.branch)

    # --- sub-workflows -------------------------------------------------------------------

    async def _start_child(self, step: Step, workflow_id: str, input_: Any) -> dict[str, Any]:
        async with self.database.transaction(tenant_id=step.tenant_id) as db:
            parent = await db.get(WorkflowRun, step.run_id)
            child = await db.get(Workflow, workflow_id)
            if parent is None or child is None:
                raise NodeFailed(f"No workflow {workflow_id} in this tenant.", "not_found")
            if parent.state.get("depth", 0) + 1 > self.services.settings.workflow_max_depth:
                raise NodeFailed("Sub-workflows nest too deep.", "too_deep")
            actor = (
                await principals.for_user(db, step.user_id, step.tenant_id)
                if step.user_id
                else None
            )
            if actor is None:
                raise NodeFailed("A sub-workflow needs the run's user.", "no_user")
            started = await runs.start(
                db,
                actor,
                child,
                user_id=step.user_id,
                trigger={"type": "workflow", "parentRunId": parent.id},
                input_=input_,
                parent=parent,
            )
        return {"runId": started.run_id, "taskId": started.task_id}


async def resume_paused(db: AsyncSession, workflow_id: str) -> int:
    stmt = select(WorkflowRun).where(
        WorkflowRun.workflow_id == workflow_id, WorkflowRun.status == RunStatus.PAUSED.value
    )
    found = list((await db.scalars(stmt)).all())
    for run in found:
        await runs.continue_later(db, run, await tasks.lock(db, run.task_id))
    return len(found)
