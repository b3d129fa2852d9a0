"""The run's bookkeeping between node executions: node records (start, finish, failure with
retry and `onError`), and what a node that waits (a timer, an approval, a sub-workflow) has
come to. Used by the engine inside its one transaction per step."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.approvals import service as approvals
from sophon.approvals.models import ApprovalStatus
from sophon.platform.clock import iso, utcnow
from sophon.platform.events import EventName, after_commit
from sophon.platform.ids import new_id
from sophon.tasks.models import Task
from sophon.workflows import expressions, graph
from sophon.workflows import run_service as runs
from sophon.workflows.events import run_event
from sophon.workflows.executors import NodeFailed, Services
from sophon.workflows.models import (
    RUN_FINISHED,
    NodeStatus,
    RunStatus,
    WorkflowNodeRun,
    WorkflowRun,
)

log = logging.getLogger("sophon.workflows")
SETTLED_FAILURE = {"continue": None, "route": "error"}


@dataclass
class Planned:
    tenant_id: str
    run_id: str
    task_id: str
    user_id: str | None
    trigger_type: str
    record_id: str
    node: dict[str, Any]
    attempt: int
    state: dict[str, Any]
    scope: dict[str, Any]
    secrets: tuple[str, ...] = ()
    """The values of the workflow's secrets, masked wherever the node's record would keep them."""


MASK = "••••••"


def masked(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every secret value in its strings replaced by a mask."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {key: masked(inner, secrets) for key, inner in value.items()}
    if isinstance(value, list):
        return [masked(inner, secrets) for inner in value]
    return value


def latest_of(records: list[WorkflowNodeRun]) -> dict[str, WorkflowNodeRun]:
    latest: dict[str, WorkflowNodeRun] = {}
    for record in records:  # ordered by id: later attempts win
        latest[record.node_id] = record
    return latest


def _scope(run: WorkflowRun, latest: dict[str, WorkflowNodeRun]) -> dict[str, Any]:
    nodes = {
        node_id: {"output": r.output, "status": r.status, "error": r.error}
        for node_id, r in latest.items()
    }
    return {
        "node": nodes,
        "vars": dict(run.state.get("vars") or {}),
        "trigger": run.trigger,
        "input": run.input,
        "run": {"id": run.id, "workflowId": run.workflow_id, "version": run.version},
    }


def truncate(value: Any, limit: int) -> Any:
    """The value, or a note with its start when its JSON is over `limit` bytes."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text.encode()) <= limit:
        return value
    return {
        "truncated": True,
        "note": f"The output was {len(text.encode())} bytes; only the first {limit} are kept.",
        "preview": text.encode()[:limit].decode(errors="ignore"),
    }


class RunBook:
    """The bookkeeping half of the engine (`services` is set by the engine)."""

    services: Services

    def _wake(self) -> timedelta:
        return timedelta(seconds=self.services.settings.workflow_wake_seconds)

    def _record(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        node: dict[str, Any],
        attempt: int,
        status: NodeStatus,
        state: dict[str, Any] | None = None,
    ) -> WorkflowNodeRun:
        now = utcnow()
        record = WorkflowNodeRun(
            id=new_id("wnr"),
            tenant_id=run.tenant_id,
            run_id=run.id,
            node_id=node["id"],
            node_type=node["type"],
            attempt=attempt,
            status=status.value,
            state=state or {},
            started_at=now,
            finished_at=now if status is NodeStatus.SKIPPED else None,
        )
        db.add(record)
        return record

    def _planned(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        node: dict[str, Any],
        record: WorkflowNodeRun,
        latest: dict[str, WorkflowNodeRun],
    ) -> Planned:
        scope = _scope(run, latest)
        config = node.get("config") or {}
        try:
            record.input = truncate(
                expressions.resolve(config, scope), self.services.settings.workflow_max_output_bytes
            )
        except expressions.ExpressionError:
            record.input = config  # the executor reports the error
        if node["type"] == "action.api_call" and isinstance(record.input, dict):
            from sophon.workflows.executors import mask_headers

            record.input = {
                **record.input,
                "headers": mask_headers(record.input.get("headers") or {}),
            }
        after_commit(
            db,
            run_event(
                run,
                EventName.WORKFLOW_NODE_STARTED,
                nodeId=node["id"],
                nodeType=node["type"],
                attempt=record.attempt,
            ),
        )
        return Planned(
            tenant_id=run.tenant_id,
            run_id=run.id,
            task_id=run.task_id,
            user_id=run.user_id,
            trigger_type=str(run.trigger.get("type", "manual")),
            record_id=record.id,
            node=node,
            attempt=record.attempt,
            state=dict(record.state),
            scope=scope,
        )

    async def _settled(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        task: Task,
        node: dict[str, Any],
        record: WorkflowNodeRun,
    ) -> graph.Record | Planned | None:
        """How the walk sees a node's latest record; a Planned to run it (again) now; None when
        the run waits for it (the next job is queued) or has ended."""
        status = record.status
        if status == NodeStatus.COMPLETED.value:
            return graph.Record(status, record.state.get("branch"))
        if status == NodeStatus.SKIPPED.value:
            return graph.Record(status)
        latest = {r.node_id: r for r in await runs.node_records(db, run.id)}
        if status == NodeStatus.RUNNING.value:  # its worker died: run it again, keep progress
            record.status = NodeStatus.FAILED.value
            record.finished_at = utcnow()
            record.error = {
                "code": "interrupted",
                "message": "The Gateway stopped while the node ran.",
            }
            again = self._record(
                db, run, node, record.attempt + 1, NodeStatus.RUNNING, dict(record.state)
            )
            latest[node["id"]] = again
            return self._planned(db, run, node, again, latest)
        if status == NodeStatus.WAITING.value:
            return await self._waiting(db, run, task, node, record, latest)
        # Failed
        retry_at = record.state.get("retryAt")
        if retry_at is not None:
            when = datetime.fromisoformat(str(retry_at).replace("Z", "+00:00"))
            if when > utcnow():
                await runs.continue_later(db, run, task, when)
                return None
            state = {k: v for k, v in record.state.items() if k != "retryAt"}
            again = self._record(db, run, node, record.attempt + 1, NodeStatus.RUNNING, state)
            latest[node["id"]] = again
            return self._planned(db, run, node, again, latest)
        policy = record.state.get("policy", node.get("onError", "fail"))
        if policy in SETTLED_FAILURE:
            return graph.Record(status, record.state.get("branch", SETTLED_FAILURE[policy]))
        await runs.end_run(
            db, run, RunStatus.FAILED, {"nodeId": node["id"], **(record.error or {})}
        )
        return None

    async def _waiting(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        task: Task,
        node: dict[str, Any],
        record: WorkflowNodeRun,
        latest: dict[str, WorkflowNodeRun],
    ) -> graph.Record | Planned | None:
        state = record.state
        now = utcnow()
        if "approvalId" in state:
            approval = await approvals.expire_if_due(db, str(state["approvalId"]))
            if approval is not None and approval.status == ApprovalStatus.PENDING.value:
                await self._still_waiting(
                    db, run, task, min(approval.expires_at, now + self._wake())
                )
                return None
            approved = approval is not None and approval.status == ApprovalStatus.APPROVED.value
            decision = {
                "approved": approved,
                "approvalId": state["approvalId"],
                "decidedBy": approval.decided_by if approval else None,
                "reason": approval.reason if approval else "The approval is gone.",
            }
            if state.get("gate"):
                if approved or state.get("onReject") == "route":
                    return self._finish(
                        db, run, record, decision, "approved" if approved else "rejected"
                    )
                return await self._fail(
                    db,
                    run,
                    task,
                    node,
                    record,
                    NodeFailed("The approval was rejected or timed out.", "rejected", decision),
                )
            if not approved:
                return await self._fail(
                    db,
                    run,
                    task,
                    node,
                    record,
                    NodeFailed(
                        f"The call of {state.get('tool')} was rejected or timed out.",
                        "rejected",
                        decision,
                    ),
                )
            record.status = NodeStatus.RUNNING.value
            record.state = {
                **state,
                "approvedArguments": approval.approved_arguments if approval is not None else {},
            }
            return self._planned(db, run, node, record, latest)
        if "childRunId" in state:
            child = await db.get(WorkflowRun, str(state["childRunId"]))
            if child is not None and child.status not in RUN_FINISHED:
                await self._still_waiting(db, run, task, now + self._wake())
                return None
            if child is not None and child.status == RunStatus.COMPLETED.value:
                return self._finish(db, run, record, child.state.get("output"), None)
            return await self._fail(
                db,
                run,
                task,
                node,
                record,
                NodeFailed(
                    f"The sub-workflow run ended {child.status if child else 'missing'}.",
                    "sub_workflow_failed",
                    child.error if child else None,
                ),
            )
        until = datetime.fromisoformat(str(state.get("until")).replace("Z", "+00:00"))
        if until > now:
            await self._still_waiting(db, run, task, until)
            return None
        return self._finish(db, run, record, {"waitedUntil": state.get("until")}, None)

    async def _still_waiting(
        self, db: AsyncSession, run: WorkflowRun, task: Task, when: datetime
    ) -> None:
        if run.status != RunStatus.WAITING.value:
            run.status = RunStatus.WAITING.value
        await runs.continue_later(db, run, task, when)
        return

    def _finish(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        record: WorkflowNodeRun,
        output: Any,
        branch: str | None,
    ) -> graph.Record:
        record.status = NodeStatus.COMPLETED.value
        record.output = truncate(output, self.services.settings.workflow_max_output_bytes)
        record.finished_at = utcnow()
        record.state = {**record.state, "branch": branch}
        run.status = RunStatus.RUNNING.value
        after_commit(
            db,
            run_event(
                run,
                EventName.WORKFLOW_NODE_COMPLETED,
                nodeId=record.node_id,
                nodeStatus=record.status,
            ),
        )
        return graph.Record(record.status, branch)

    async def _fail(
        self,
        db: AsyncSession,
        run: WorkflowRun,
        task: Task,
        node: dict[str, Any],
        record: WorkflowNodeRun,
        failed: NodeFailed,
    ) -> graph.Record | None:
        """Records a failed attempt; retries it, or settles it by the node's onError."""
        now = utcnow()
        record.status = NodeStatus.FAILED.value
        record.finished_at = now
        record.error = {"code": failed.code, "message": failed.message}
        if failed.output is not None:
            record.output = truncate(
                failed.output, self.services.settings.workflow_max_output_bytes
            )
        after_commit(
            db,
            run_event(
                run,
                EventName.WORKFLOW_NODE_COMPLETED,
                nodeId=node["id"],
                nodeStatus=record.status,
                error=record.error,
            ),
        )
        retry = node.get("retry") or {}
        if record.attempt < int(retry.get("maxAttempts", 1)) and failed.code != "rejected":
            backoff = float(retry.get("backoffSeconds", 0)) * 2 ** (record.attempt - 1)
            when = now + timedelta(seconds=backoff)
            record.state = {**record.state, "retryAt": iso(when)}
            await runs.continue_later(db, run, task, when)
            return None
        policy = node.get("onError", "fail")
        if policy in SETTLED_FAILURE:
            record.state = {**record.state, "policy": policy, "branch": SETTLED_FAILURE[policy]}
            run.status = RunStatus.RUNNING.value
            return graph.Record(record.status, SETTLED_FAILURE[policy])
        await runs.end_run(
            db,
            run,
            RunStatus.FAILED,
            {"nodeId": node["id"], "code": failed.code, "message": failed.message},
        )
        return None

    # --- recording what a node did (one transaction) -----------------------------------------
