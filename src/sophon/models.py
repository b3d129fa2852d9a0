"""Every table of every domain, gathered so Alembic and the tests see one metadata."""

from sophon.agents import models as agent_models
from sophon.audit import models as audit_models
from sophon.identity import models as identity_models
from sophon.platform import kv, queue_models
from sophon.platform.db import Base
from sophon.providers import models as provider_models
from sophon.tenants import models as tenant_models

metadata = Base.metadata

__all__ = [
    "agent_models",
    "audit_models",
    "identity_models",
    "kv",
    "metadata",
    "provider_models",
    "queue_models",
    "tenant_models",
]
