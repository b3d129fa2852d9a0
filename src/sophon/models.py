"""Every table of every domain, gathered so Alembic and the tests see one metadata."""

from sophon.agents import models as agent_models
from sophon.approvals import models as approval_models
from sophon.audit import models as audit_models
from sophon.chat import models as chat_models
from sophon.connections import models as connection_models
from sophon.cron import models as cron_models
from sophon.documents import fts as document_fts
from sophon.documents import models as document_models
from sophon.identity import models as identity_models
from sophon.mcp import models as mcp_models
from sophon.memory import models as memory_models
from sophon.memory.entries import fts
from sophon.memory.search import vector_index
from sophon.platform import idempotency_models, kv, queue_models
from sophon.platform.db import Base
from sophon.providers import models as provider_models
from sophon.skills import models as skill_models
from sophon.tasks import models as task_models
from sophon.tenants import models as tenant_models
from sophon.webhooks import models as webhook_models
from sophon.workflows import models as workflow_models

metadata = Base.metadata

RAW_DDL_PREFIXES = (
    fts.PREFIX,
    vector_index.PREFIX,
    document_fts.PREFIX,
    document_fts.VEC_PREFIX,
)
"""Objects made by raw DDL (full-text and vector tables, indexes) that the models do not
describe."""


def described_by_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name`: schema comparison leaves raw-DDL objects alone."""
    return not (name or "").startswith(RAW_DDL_PREFIXES)


__all__ = [
    "RAW_DDL_PREFIXES",
    "agent_models",
    "approval_models",
    "audit_models",
    "chat_models",
    "connection_models",
    "cron_models",
    "described_by_models",
    "document_models",
    "idempotency_models",
    "identity_models",
    "kv",
    "mcp_models",
    "memory_models",
    "metadata",
    "provider_models",
    "queue_models",
    "skill_models",
    "task_models",
    "tenant_models",
    "webhook_models",
    "workflow_models",
]
