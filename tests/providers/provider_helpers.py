"""Creating providers through the API, and a tenant-bound session for the routing service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.gateway import Gateway
from sophon.platform.tenancy import DEFAULT_TENANT_SLUG
from sophon.tenants.models import Tenant
from tests.identity_helpers import Caller

PROVIDERS = "/api/models/providers"
SECRET = "sk-proj-SUPERSECRETvalue0123456789wxyz"


async def add_provider(client: httpx.AsyncClient, caller: Caller, **body: Any) -> dict[str, Any]:
    response = await client.post(PROVIDERS, headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


@asynccontextmanager
async def tenant_session(gateway: Gateway, *, readonly: bool = True) -> AsyncIterator[AsyncSession]:
    """A transaction in the default tenant, as a request of its members would have."""
    async with gateway.db.transaction(readonly=True) as probe:
        tenant_id = await probe.scalar(select(Tenant.id).where(Tenant.slug == DEFAULT_TENANT_SLUG))
    assert tenant_id is not None
    async with gateway.db.transaction(readonly=readonly, tenant_id=tenant_id) as session:
        yield session
