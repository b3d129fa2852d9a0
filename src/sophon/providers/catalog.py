"""`GET /api/models`: the models of the tenant's providers plus the built-in echo model."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.providers.routing import ECHO_MODEL, ECHO_PROVIDER
from sophon.providers.schemas import Capabilities, CatalogEntry, ModelSpec, ProviderStatus
from sophon.providers.service import list_providers

ECHO_ENTRY = CatalogEntry(
    id=ECHO_MODEL,
    display_name="Offline echo model (no real model)",
    capabilities=Capabilities(function_calling=True, streaming=True),
    input_price_per_1m=0.0,
    output_price_per_1m=0.0,
    ref=f"{ECHO_PROVIDER}/{ECHO_MODEL}",
    provider=ECHO_PROVIDER,
    provider_id=None,
    provider_type="echo",
    provider_status=ProviderStatus.ACTIVE,
)


async def catalog(db: AsyncSession) -> list[CatalogEntry]:
    """Providers in routing order, each with its models in stored order; echo last."""
    entries: list[CatalogEntry] = []
    for row in await list_providers(db):
        for stored in row.models:
            spec = ModelSpec.model_validate(stored)
            entries.append(
                CatalogEntry(
                    **spec.model_dump(),
                    ref=f"{row.name}/{spec.id}",
                    provider=row.name,
                    provider_id=row.id,
                    provider_type=row.type,
                    provider_status=ProviderStatus(row.status),
                )
            )
    return [*entries, ECHO_ENTRY]
