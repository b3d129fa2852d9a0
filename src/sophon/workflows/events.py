"""The events a run publishes (bus and the tasks hub), addressed to the run's user."""

from __future__ import annotations

from typing import Any

from sophon.platform.events import Audience, Event, EventName
from sophon.workflows.models import WorkflowRun


def run_event(run: WorkflowRun, name: EventName, **payload: Any) -> Event:
    body = {
        "runId": run.id,
        "workflowId": run.workflow_id,
        "taskId": run.task_id,
        "version": run.version,
        "status": run.status,
        "parentRunId": run.parent_run_id,
        "userId": run.user_id,
        **payload,
    }
    return Event(
        name.value,
        body,
        tenant_id=run.tenant_id,
        audience=Audience(user_ids=frozenset({run.user_id}) if run.user_id else frozenset()),
    )


WAKE_JOB = "workflow.run"
