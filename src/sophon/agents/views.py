"""Turning agents and file states into their wire shapes, and reading a persona file's body."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row

from sophon.agents.files import MAX_FILE_BYTES
from sophon.agents.models import Agent, AgentFileVersion
from sophon.agents.persona import FileState
from sophon.agents.schemas import (
    ActiveHours,
    AgentFileIn,
    AgentFileOut,
    AgentFileVersionOut,
    AgentOut,
    BudgetOut,
    HeartbeatOut,
    PlanningMode,
    VersionActor,
)
from sophon.platform.errors import InvalidRequest, ValidationFailed

MARKDOWN_TYPES = ("text/markdown", "text/plain")


def agent_out(agent: Agent | Row[Any]) -> AgentOut:
    """The wire shape of an agent, from its ORM object or a Core row of its table."""
    hours = agent.heartbeat_active_hours
    return AgentOut(
        id=agent.id,
        name=agent.name,
        description=agent.description,
        model=agent.model,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
        planning_mode=PlanningMode(agent.planning_mode),
        heartbeat=HeartbeatOut(
            enabled=agent.heartbeat_enabled,
            interval_minutes=agent.heartbeat_interval_minutes,
            active_hours=ActiveHours.model_validate(hours) if hours else None,
        ),
        budget=BudgetOut(daily_tokens=agent.budget_daily_tokens),
        tools=list(agent.tools),
        owner_id=agent.owner_id,
        is_default=agent.is_default,
        created_at=agent.created_at,
        updated_at=agent.updated_at,
    )


def file_out(state: FileState) -> AgentFileOut:
    return AgentFileOut(
        kind=state.kind.value,
        filename=state.kind.filename,
        content=state.content,
        version=state.version,
        updated_at=state.updated_at,
        etag=state.etag,
    )


def version_out(row: AgentFileVersion, with_content: bool) -> AgentFileVersionOut:
    return AgentFileVersionOut(
        version=row.version,
        sha256=row.sha256,
        size=len(row.content.encode()),
        actor=VersionActor(kind=row.actor_kind, user_id=row.actor_user_id, email=row.actor_email),
        created_at=row.created_at,
        content=row.content if with_content else None,
    )


def file_content(content_type: str, body: bytes) -> str:
    """The new content from a `{"content": ...}` JSON body or a raw Markdown (UTF-8) body."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in MARKDOWN_TYPES:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("A Markdown body must be UTF-8 text.") from None
    if media != "application/json":
        raise InvalidRequest(
            'Send application/json ({"content": ...}) or text/markdown.',
            {"contentType": media or None},
        )
    try:
        raw: Any = json.loads(body)
    except ValueError:
        raise InvalidRequest("The request body is not valid JSON.") from None
    try:
        parsed = AgentFileIn.model_validate(raw)
    except ValidationError as error:
        fields = [
            {"field": ".".join(["body", *(str(p) for p in e["loc"])]), "message": e["msg"]}
            for e in error.errors()
        ]
        raise ValidationFailed("Invalid fields.", {"fields": fields}) from None
    return parsed.content


FILE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": AgentFileIn.model_json_schema(by_alias=True)},
            "text/markdown": {"schema": {"type": "string"}},
        },
        "description": f"The whole new file, at most {MAX_FILE_BYTES} bytes of UTF-8.",
    }
}
