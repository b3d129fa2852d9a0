"""Forgetting: erasing an entry everywhere it lives (row, full-text index, vectors, versions,
graph links derived only from it, entities nothing else mentions), gated by an approval when a
person asks through the API. The audit trail records that the entry existed, never what it said."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.agents import service as agents
from sophon.approvals import actions
from sophon.approvals import service as approvals
from sophon.approvals.models import Approval
from sophon.audit import service as audit
from sophon.memory.entries import service as entries
from sophon.memory.entries.access import Actor
from sophon.memory.graph import service as graph
from sophon.memory.models import MemoryEntry, MemoryEntryVersion
from sophon.memory.schemas import Scope
from sophon.platform.clock import iso
from sophon.platform.errors import NotAuthorized
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal
from sophon.platform.tenancy import session_tenant

FORGET = "memory.forget"
FORGET_ALL = "memory.forget_all"
EXCERPT_CHARS = 200
FORGOTTEN_PREVIEW = "[forgotten: the content was erased]"
MEMORY_FORGOTTEN = "MemoryForgotten"
"""Bus event naming the erased entries (ids only; no hub forwards it; webhooks deliver it)."""


async def _optimize_index(db: AsyncSession) -> None:
    """SQLite's FTS5 keeps deleted tokens in its segments until they are merged; merging them
    all makes the erasure real. PostgreSQL's expression index drops the row with it (the space
    is reclaimed by vacuum)."""
    if db.get_bind().dialect.name == "sqlite":
        await db.execute(text("INSERT INTO memory_fts(memory_fts) VALUES ('optimize')"))


async def erase(db: AsyncSession, entry_ids: list[str]) -> list[MemoryEntry]:
    """Erases these entries of the session's tenant; returns the ones that existed (detached,
    for the audit trail's metadata)."""
    found = list((await db.scalars(select(MemoryEntry).where(MemoryEntry.id.in_(entry_ids)))).all())
    mentioned: list[str] = []
    for entry in found:
        mentioned += await graph.remove_for_entry(db, entry.id)
        await db.delete(entry)
    await db.execute(delete(MemoryEntryVersion).where(MemoryEntryVersion.entry_id.in_(entry_ids)))
    await db.flush()
    await graph.drop_orphans(db, list(dict.fromkeys(mentioned)))
    if found:
        await _optimize_index(db)
        after_commit(
            db,
            Event(
                MEMORY_FORGOTTEN,
                {"memoryIds": [entry.id for entry in found]},
                tenant_id=session_tenant(db.sync_session),
                audience=Audience(),
            ),
        )
    return found


def _existed(entry: MemoryEntry) -> dict[str, Any]:
    return {
        "entryId": entry.id,
        "scope": entry.scope,
        "category": entry.category,
        "agentId": entry.agent_id,
        "userId": entry.user_id,
        "createdAt": iso(entry.created_at),
    }


async def forget_now(
    db: AsyncSession, who: Principal | dict[str, Any], entry_ids: list[str], **details: Any
) -> int:
    erased = await erase(db, entry_ids)
    for entry in erased:
        await audit.record(
            db, who, FORGET, ("memory", entry.id), details={**_existed(entry), **details}
        )
    return len(erased)


async def forget_agent_now(
    db: AsyncSession, who: Principal | dict[str, Any], agent_id: str, **details: Any
) -> int:
    ids = list(
        (
            await db.scalars(
                select(MemoryEntry.id).where(
                    MemoryEntry.scope == Scope.AGENT.value, MemoryEntry.agent_id == agent_id
                )
            )
        ).all()
    )
    erased = await erase(db, ids)
    await audit.record(
        db, who, FORGET_ALL, ("agent", agent_id), details={"count": len(erased), **details}
    )
    return len(erased)


async def request_forget(db: AsyncSession, principal: Principal, entry_id: str) -> Approval:
    """A pending approval to forget the entry (the caller must be allowed to change it)."""
    actor = Actor.of(principal)
    entry = await entries.get(db, actor, entry_id)
    await entries.require_write(db, actor, entry)
    excerpt = entry.content[:EXCERPT_CHARS] + ("…" if len(entry.content) > EXCERPT_CHARS else "")
    return await approvals.request_action(
        db,
        principal,
        action=FORGET,
        tool_name=FORGET,
        risk_level="High",
        arguments={"entryId": entry.id},
        preview=f"Forget this {entry.scope} memory for good: {excerpt}",
    )


async def request_forget_all(db: AsyncSession, principal: Principal, agent_id: str) -> Approval:
    """A pending approval to forget every agent-scoped memory of the agent (Critical)."""
    if not principal.can(Permission.MANAGE_MEMORY):
        raise NotAuthorized(
            "Forgetting an agent's memories needs the ManageMemory permission.",
            {"permission": Permission.MANAGE_MEMORY.value},
        )
    agent = await agents.get(db, agent_id)
    return await approvals.request_action(
        db,
        principal,
        action=FORGET_ALL,
        tool_name=FORGET_ALL,
        risk_level="Critical",
        arguments={"agentId": agent.id},
        preview=f"Forget every agent-scoped memory of the agent '{agent.name}'.",
    )


def _approver(approval: Approval) -> dict[str, Any]:
    return {
        "userId": approval.decided_by,
        "email": None,
        "role": None,
        "tenantId": approval.tenant_id,
        "requestedBy": approval.user_id,
    }


async def _on_forget(db: AsyncSession, approval: Approval) -> None:
    entry_id = str(approval.arguments.get("entryId"))
    await forget_now(db, _approver(approval), [entry_id], approvalId=approval.id)
    approval.preview = FORGOTTEN_PREVIEW


async def _on_forget_all(db: AsyncSession, approval: Approval) -> None:
    agent_id = str(approval.arguments.get("agentId"))
    await forget_agent_now(db, _approver(approval), agent_id, approvalId=approval.id)


actions.register(FORGET, _on_forget)
actions.register(FORGET_ALL, _on_forget_all)
