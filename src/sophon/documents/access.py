"""Who sees which documents: each has an owner (`createdBy`) and a visibility (`private`: the
owner only; `tenant`: every member). `ManageDocuments` sees and changes every document of the
tenant. An agent's tool acts for the user of its session. Anything else is 404."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select

from sophon.documents.models import Document
from sophon.platform.permissions import Permission
from sophon.platform.principal import Principal


@dataclass(frozen=True)
class Reader:
    tenant_id: str
    user_id: str | None
    manage: bool
    principal: Principal | None = None
    agent_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Reader:
        return cls(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            manage=principal.can(Permission.MANAGE_DOCUMENTS),
            principal=principal,
        )

    @classmethod
    def agent(cls, tenant_id: str, user_id: str | None, agent_id: str | None) -> Reader:
        return cls(tenant_id=tenant_id, user_id=user_id, manage=False, agent_id=agent_id)

    def audit_actor(self) -> Principal | dict[str, Any]:
        if self.principal is not None:
            return self.principal
        return {
            "userId": self.user_id,
            "email": None,
            "role": None,
            "tenantId": self.tenant_id,
            "agentId": self.agent_id,
        }


def visible(reader: Reader) -> Select[Document]:
    stmt = select(Document)
    if reader.manage:
        return stmt
    shared = Document.visibility == "tenant"
    if reader.user_id is None:
        return stmt.where(shared)
    return stmt.where(or_(Document.created_by == reader.user_id, shared))
