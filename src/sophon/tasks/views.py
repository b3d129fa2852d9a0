"""Tasks as wire models."""

from __future__ import annotations

from sophon.chat.models import Message
from sophon.chat.views import tool_call_out
from sophon.tasks.models import Task
from sophon.tasks.schemas import TaskDetailOut, TaskOut
from sophon.tasks.service import duration_ms


def task_out(task: Task) -> TaskOut:
    return TaskOut(
        id=task.id,
        kind=task.kind,
        status=task.status,
        session_id=task.session_id,
        agent_id=task.agent_id,
        user_id=task.user_id,
        description=task.description,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
        duration_ms=duration_ms(task),
        input_tokens=task.input_tokens,
        output_tokens=task.output_tokens,
        tokens_used=task.input_tokens + task.output_tokens,
        error=task.error,
        error_code=task.error_code,
        parent_task_id=task.parent_task_id,
    )


def task_detail(task: Task, calls: list[Message], children: list[str]) -> TaskDetailOut:
    return TaskDetailOut(
        **task_out(task).model_dump(),
        tool_calls=[tool_call_out(entry) for message in calls for entry in message.tool_calls],
        plan=task.plan,
        log=task.log,
        children=children,
    )
