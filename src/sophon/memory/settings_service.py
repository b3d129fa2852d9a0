"""Per-agent memory switches."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.memory.models import MemoryAgentSettings
from sophon.memory.schemas import AgentMemorySettings
from sophon.platform.clock import utcnow
from sophon.platform.principal import Principal


async def extraction_enabled(db: AsyncSession, agent_id: str) -> bool:
    row = await db.get(MemoryAgentSettings, agent_id)
    return True if row is None else row.extraction_enabled


async def get(db: AsyncSession, agent_id: str) -> AgentMemorySettings:
    agent = await agents.get(db, agent_id)
    return AgentMemorySettings(
        agent_id=agent.id, extraction_enabled=await extraction_enabled(db, agent.id)
    )


@audited("memory.settings.update")
async def put(
    db: AsyncSession, principal: Principal, agent_id: str, extraction: bool
) -> AgentMemorySettings:
    agent = await agents.get(db, agent_id)
    row = await db.get(MemoryAgentSettings, agent.id)
    if row is None:
        row = MemoryAgentSettings(agent_id=agent.id)
        db.add(row)
    row.extraction_enabled = extraction
    row.updated_at = utcnow()
    await db.flush()
    await audit.record(
        db,
        principal,
        "memory.settings.update",
        ("agent", agent.id),
        details={"extractionEnabled": extraction},
    )
    return AgentMemorySettings(agent_id=agent.id, extraction_enabled=extraction)
