"""`/api/models`: model providers (credentials, routing, tests) and the model catalog."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status

from sophon.deps import DbDep, GatewayDep, PageDep
from sophon.identity.guard import PrincipalDep, requires
from sophon.platform.access import api_router
from sophon.platform.pagination import Page, page_in_memory, page_of
from sophon.platform.permissions import Permission as P
from sophon.platform.vault import Vault
from sophon.providers import service
from sophon.providers.catalog import catalog
from sophon.providers.models import ModelProvider
from sophon.providers.schemas import (
    CatalogEntry,
    ModelSpec,
    ProviderIn,
    ProviderOut,
    ProviderPatchIn,
    ProviderStatus,
    ProviderTestOut,
)

router = api_router("/models", tags=["Models"])

_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such provider in this tenant."}
}
_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another provider of the tenant has this name."}
}


def provider_out(row: ModelProvider) -> ProviderOut:
    return ProviderOut(
        id=row.id,
        name=row.name,
        provider_type=row.type,
        type=row.type,
        base_url=row.base_url,
        api_key=row.api_key_mask,
        priority=row.priority,
        status=ProviderStatus(row.status),
        default_model=row.default_model,
        models=[ModelSpec.model_validate(m) for m in row.models],
        last_tested_at=row.last_tested_at,
        last_latency_ms=row.last_latency_ms,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _vault(gateway: GatewayDep) -> Vault:
    return gateway.vault


@router.get(
    "",
    operation_id="listModels",
    description="The models of the tenant's providers in routing order, then the offline echo "
    "model (`echo/echo`), which answers chat whenever the tenant has no enabled provider. "
    "`ref` is the model reference callers pass (`<provider name>/<model id>`).",
)
@requires(P.VIEW_MODELS)
async def list_models(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[CatalogEntry]:
    """The model catalog: every model of the tenant's providers, then the offline echo model."""
    scope = f"models:{principal.tenant_id}"
    return page_in_memory(gateway.paginator, await catalog(db), page, scope, lambda e: e.ref)


@router.get("/providers", operation_id="listModelProviders")
@requires(P.MANAGE_MODELS)
async def list_providers(
    db: DbDep, gateway: GatewayDep, page: PageDep, principal: PrincipalDep
) -> Page[ProviderOut]:
    """The tenant's model providers in routing order (priority ascending, then name)."""
    scope = f"providers:{principal.tenant_id}"
    return await page_of(
        gateway.paginator,
        db,
        service.providers(),
        page,
        scope,
        provider_out,
        order=service.ROUTING_ORDER,
        descending=False,
    )


@router.post(
    "/providers",
    operation_id="createModelProvider",
    status_code=status.HTTP_201_CREATED,
    responses=_TAKEN,
)
@requires(P.MANAGE_MODELS)
async def create_provider(
    body: ProviderIn, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> ProviderOut:
    """Adds a provider; its API key is encrypted at rest and only ever shown masked."""
    row = await service.create(db, principal, _vault(gateway), gateway.model_runtime, body)
    return provider_out(row)


@router.get("/providers/{provider_id}", operation_id="getModelProvider", responses=_MISSING)
@requires(P.MANAGE_MODELS)
async def get_provider(provider_id: str, db: DbDep) -> ProviderOut:
    """One provider of the tenant."""
    return provider_out(await service.get_provider(db, provider_id))


@router.patch(
    "/providers/{provider_id}", operation_id="updateModelProvider", responses=_MISSING | _TAKEN
)
@requires(P.MANAGE_MODELS)
async def update_provider(
    provider_id: str,
    body: ProviderPatchIn,
    db: DbDep,
    principal: PrincipalDep,
    gateway: GatewayDep,
) -> ProviderOut:
    """Changes a provider; absent fields stay, `apiKey: null` removes the key."""
    row = await service.update(db, principal, _vault(gateway), provider_id, body)
    return provider_out(row)


@router.delete(
    "/providers/{provider_id}",
    operation_id="deleteModelProvider",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_MISSING,
)
@requires(P.MANAGE_MODELS)
async def delete_provider(provider_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    """Removes a provider and its stored key."""
    await service.delete(db, principal, provider_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/providers/{provider_id}/test", operation_id="testModelProvider", responses=_MISSING)
@requires(P.MANAGE_MODELS)
async def test_provider(
    provider_id: str, db: DbDep, principal: PrincipalDep, gateway: GatewayDep
) -> ProviderTestOut:
    """Lists the provider's models and makes one tiny real call; stores and returns the result."""
    return await service.test(db, principal, gateway.vault, gateway.model_runtime, provider_id)
