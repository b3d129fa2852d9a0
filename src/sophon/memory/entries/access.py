"""Who may see and change which memories.

Users see their own user-scoped entries and the agent-scoped entries of the tenant's agents
(every member may use every agent). `ManageMemory` widens both reading and writing to the whole
tenant. Agent-scoped entries are written by the agent itself (its tools), by the agent's owner or
by a `ManageMemory` holder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select

from sophon.memory.models import MemoryEntry
from sophon.memory.schemas import Scope
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal


@dataclass(frozen=True)
class Actor:
    """The memory domain's view of a caller: a person through the API, or an agent's tool
    acting for the user of its session."""

    tenant_id: str
    user_id: str | None
    email: str | None
    manage: bool
    agent_id: str | None = None  # set when an agent acts through its tools
    principal: Principal | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            email=principal.email,
            manage=principal.can(Permission.MANAGE_MEMORY),
            principal=principal,
        )

    @classmethod
    def agent(
        cls, tenant_id: str, user_id: str | None, agent_id: str | None, email: str | None
    ) -> Actor:
        return cls(
            tenant_id=tenant_id, user_id=user_id, email=email, manage=False, agent_id=agent_id
        )

    def audit_actor(self) -> Principal | dict[str, Any]:
        if self.principal is not None:
            return self.principal
        return {
            "userId": self.user_id,
            "email": self.email,
            "role": None,
            "tenantId": self.tenant_id,
            "agentId": self.agent_id,
        }


def visible(actor: Actor) -> Select[MemoryEntry]:
    stmt = select(MemoryEntry)
    if actor.manage:
        return stmt
    own = and_(MemoryEntry.scope == Scope.USER.value, MemoryEntry.user_id == actor.user_id)
    agents = MemoryEntry.scope == Scope.AGENT.value
    if actor.agent_id is not None:  # an agent reads only its own agent scope
        agents = and_(agents, MemoryEntry.agent_id == actor.agent_id)
    return stmt.where(or_(own, agents) if actor.user_id is not None else agents)


def may_write(
    actor: Actor, scope: str, user_id: str | None, agent_owner: str | None, agent_id: str | None
) -> bool:
    if actor.manage:
        return True
    if scope == Scope.USER.value:
        return actor.user_id is not None and actor.user_id == user_id
    if actor.agent_id is not None:
        return actor.agent_id == agent_id
    return actor.user_id is not None and actor.user_id == agent_owner
