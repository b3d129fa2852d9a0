"""Agent heartbeats: each enabled agent runs every `intervalMinutes` in a fresh heartbeat session
of its own with the HEARTBEAT.md checklist. A tick is claimed with a conditional UPDATE, so among
several replicas exactly one starts it; after downtime the missed ticks run once, not N times."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sophon.agents import service as agents
from sophon.chat import service as chat
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.tasks import service as tasks

log = logging.getLogger("sophon.heartbeat")

CHECKLIST_PROMPT = "Heartbeat: work through your HEARTBEAT.md checklist now."


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
        due = await agents.heartbeats_due(db, now)
    started = []
    for agent_id, tenant_id in due:
        task_id = await _start(database, agent_id, tenant_id, now)
        if task_id is not None:
            started.append(task_id)
    return started


async def _start(database: Database, agent_id: str, tenant_id: str, now: datetime) -> str | None:
    async with database.transaction(tenant_id=tenant_id) as db:
        agent = await agents.claim_heartbeat(db, agent_id, now)
        if agent is None:
            return None  # gone, or another replica took this tick
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
