"""Agent heartbeats: each enabled agent runs every `intervalMinutes` in a fresh heartbeat session
of its own with the HEARTBEAT.md checklist. A tick is claimed with a conditional UPDATE, so among
several replicas exactly one starts it; after downtime the missed ticks run once, not N times."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update

from sophon.agents.models import Agent
from sophon.chat import service as chat
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.tenancy import ALL_TENANTS
from sophon.tasks import service as tasks

log = logging.getLogger("sophon.heartbeat")

CHECKLIST_PROMPT = "Heartbeat: work through your HEARTBEAT.md checklist now."


def _due(now: datetime) -> Any:
    return (
        select(Agent.id, Agent.tenant_id)
        .where(
            Agent.heartbeat_enabled.is_(True),
            Agent.deleted_at.is_(None),
            or_(Agent.heartbeat_next_at.is_(None), Agent.heartbeat_next_at <= now),
        )
        .execution_options(**ALL_TENANTS)
    )


def in_active_hours(active_hours: dict[str, Any] | None, now: datetime) -> bool:
    """`{"start": "08:00", "end": "22:00", "timezone": "Europe/Paris"}`; a window whose end
    comes before its start wraps past midnight."""
    if not active_hours or "start" not in active_hours or "end" not in active_hours:
        return True
    local = now.astimezone(ZoneInfo(str(active_hours.get("timezone") or "UTC")))
    current = local.strftime("%H:%M")
    start, end = str(active_hours["start"]), str(active_hours["end"])
    return start <= current < end if start <= end else (current >= start or current < end)


async def tick(database: Database) -> list[str]:
    """Starts the heartbeat runs that are due; returns their task ids."""
    now = utcnow()
    async with database.transaction(readonly=True) as db:
        due = (await db.execute(_due(now))).all()
    started = []
    for agent_id, tenant_id in due:
        task_id = await _start(database, agent_id, tenant_id, now)
        if task_id is not None:
            started.append(task_id)
    return started


async def _start(database: Database, agent_id: str, tenant_id: str, now: datetime) -> str | None:
    async with database.transaction(tenant_id=tenant_id) as db:
        agent = await db.get(Agent, agent_id)
        if agent is None:
            return None
        claim = (
            update(Agent)
            .where(
                Agent.id == agent_id,
                Agent.heartbeat_enabled.is_(True),
                or_(Agent.heartbeat_next_at.is_(None), Agent.heartbeat_next_at <= now),
            )
            .values(
                heartbeat_next_at=now + timedelta(minutes=agent.heartbeat_interval_minutes),
                heartbeat_last_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if (await db.execute(claim)).rowcount != 1:  # type: ignore[attr-defined]
            return None  # another replica took this tick
        if not in_active_hours(agent.heartbeat_active_hours, now):
            return None
        session = chat.new_session(
            db,
            user_id=agent.owner_id,
            agent_id=agent.id,
            kind="heartbeat",
            title=f"Heartbeat {now.strftime('%Y-%m-%d %H:%M')}",
        )
        message = chat.append_message(db, session, "user", CHECKLIST_PROMPT)
        task = tasks.create(
            db,
            kind="heartbeat",
            user_id=agent.owner_id,
            agent_id=agent.id,
            session_id=session.id,
            message_id=message.id,
            description=f"Heartbeat of {agent.name}",
            streaming=False,
        )
        log.info("heartbeat started", extra={"agentId": agent.id, "taskId": task.id})
        return task.id
