"""Rows as wire models."""

from __future__ import annotations

from sophon.workflows.models import (
    RUN_FINISHED,
    Workflow,
    WorkflowNodeRun,
    WorkflowRun,
    WorkflowVersion,
)
from sophon.workflows.nodetypes import NodeType
from sophon.workflows.schemas import (
    NodeRecordOut,
    NodeTypeOut,
    RunOut,
    RunSummary,
    VersionOut,
    WorkflowOut,
    WorkflowSummary,
)


def summary(workflow: Workflow) -> WorkflowSummary:
    return WorkflowSummary(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        version=workflow.version,
        enabled=workflow.enabled,
        paused=workflow.paused,
        trigger_type=workflow.trigger_type,
        risk=workflow.risk,
        approval=workflow.approval,
        approval_id=workflow.approval_id,
        node_count=len(workflow.definition.get("nodes", [])),
        owner_id=workflow.owner_id,
        agent_authored=workflow.agent_authored,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
    )


def workflow_out(workflow: Workflow) -> WorkflowOut:
    d = workflow.definition
    return WorkflowOut(
        **summary(workflow).model_dump(),
        secret_names=sorted(workflow.secrets or {}),
        trigger=d.get("trigger", {}),
        nodes=d.get("nodes", []),
        edges=d.get("edges", []),
        vars=d.get("vars", {}),
    )


def version_out(version: WorkflowVersion) -> VersionOut:
    return VersionOut(
        number=version.number,
        actor_id=version.actor_user_id,
        actor_email=version.actor_email,
        summary=version.summary,
        created_at=version.created_at,
        definition=version.definition,
    )


def _run_fields(run: WorkflowRun) -> dict[str, object]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "version": run.version,
        "status": run.status,
        "task_id": run.task_id,
        "user_id": run.user_id,
        "parent_run_id": run.parent_run_id,
        "trigger": run.trigger,
        "input": run.input,
        "output": run.state.get("output") if run.status in RUN_FINISHED else None,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def run_summary(run: WorkflowRun) -> RunSummary:
    return RunSummary.model_validate(_run_fields(run))


def record_out(record: WorkflowNodeRun) -> NodeRecordOut:
    return NodeRecordOut(
        id=record.id,
        node_id=record.node_id,
        node_type=record.node_type,
        attempt=record.attempt,
        status=record.status,
        input=record.input,
        output=record.output,
        error=record.error,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


def run_out(run: WorkflowRun, records: list[WorkflowNodeRun]) -> RunOut:
    return RunOut.model_validate(
        {
            **_run_fields(run),
            "vars": run.state.get("vars", {}),
            "nodes": [record_out(r) for r in records],
        }
    )


def node_type_out(kind: NodeType) -> NodeTypeOut:
    labels = ["<case>", "default"] if kind.free_labels else list(kind.labels)
    return NodeTypeOut(
        type=kind.name,
        description=kind.description,
        risk=kind.risk,
        labels=labels,
        config_schema=kind.schema,
    )
