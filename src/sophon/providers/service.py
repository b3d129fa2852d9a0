"""A tenant's model providers: create, read, update, delete and test, each audited. API keys go
through the vault (associated data: the provider id) and only their mask is ever shown."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited
from sophon.llm import (
    ModelInfo,
    ProbeResult,
    ProviderError,
    RetryPolicy,
    probe_provider,
)
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, NotFound
from sophon.platform.ids import new_id
from sophon.platform.netguard import OutboundRefused
from sophon.platform.principal import Principal
from sophon.platform.vault import Vault, VaultError, mask_secret
from sophon.providers.connect import ProviderRuntime
from sophon.providers.models import ModelProvider
from sophon.providers.schemas import (
    MAX_MODELS,
    MODEL_ID_MAX,
    ModelSpec,
    ProbeErrorOut,
    ProviderIn,
    ProviderPatchIn,
    ProviderStatus,
    ProviderTestOut,
)

log = logging.getLogger("sophon.providers")
_ERROR_TEXT_MAX = 1000
DISCOVERY_TIMEOUT = 15.0  # seconds a create waits for the server's model list
_ONE_TRY = RetryPolicy(max_retries=0)  # a create does not wait out a down server; a test retries


ROUTING_ORDER = [ModelProvider.priority, ModelProvider.name]  # names are unique in a tenant


def providers() -> Select[ModelProvider]:
    """The tenant's providers, to be ordered by `ROUTING_ORDER` (a page, or every one)."""
    return select(ModelProvider)


async def list_providers(db: AsyncSession) -> list[ModelProvider]:
    """The tenant's providers in routing order (priority ascending, then name)."""
    stmt = providers().order_by(*ROUTING_ORDER)
    return list((await db.scalars(stmt)).all())


async def get_provider(db: AsyncSession, provider_id: str) -> ModelProvider:
    row = await db.get(ModelProvider, provider_id)
    if row is None:  # another tenant's row is filtered out of the session: also 404
        raise NotFound("The model provider does not exist.", {"id": provider_id})
    return row


async def _ensure_name_free(db: AsyncSession, name: str, except_id: str | None = None) -> None:
    stmt = select(ModelProvider.id).where(ModelProvider.name == name)
    found = await db.scalar(stmt)
    if found is not None and found != except_id:
        raise Conflict(f"A model provider named {name!r} already exists.", {"name": name})


async def _flush_unique(db: AsyncSession, name: str) -> None:
    """The unique (tenant, name) index settles a race two requests both won the check for."""
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(f"A model provider named {name!r} already exists.", {"name": name}) from None


def _set_key(row: ModelProvider, vault: Vault, api_key: str | None) -> None:
    if api_key is None:
        row.api_key_secret = row.api_key_mask = None
    else:
        row.api_key_secret = vault.encrypt(api_key, row.id)
        row.api_key_mask = mask_secret(api_key)


def api_key_of(row: ModelProvider, vault: Vault) -> str | None:
    """The decrypted key; VaultError when the stored blob is tampered or the key changed."""
    return vault.decrypt(row.api_key_secret, row.id) if row.api_key_secret else None


@audited("provider.create")
async def create(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    runtime: ProviderRuntime,
    body: ProviderIn,
) -> ModelProvider:
    """A provider given neither `defaultModel` nor `models` gets the models its server lists
    (best effort: an unreachable server leaves the list empty until a test fills it). The server
    is asked with no transaction open (a write one would hold SQLite's lock meanwhile)."""
    await _ensure_name_free(db, body.name)
    row = ModelProvider(
        id=new_id("prov"),
        name=body.name,
        type=body.type,
        base_url=body.base_url,
        priority=body.priority,
        status=str(body.status),
        default_model=body.default_model,
        models=[m.model_dump(by_alias=True) for m in body.models],
    )
    _set_key(row, vault, body.api_key)
    if _needs_discovery(row):
        await db.commit()  # nothing written yet; later statements start a new transaction
        row.models = _specs(await _discover(runtime, row, body.api_key))
    db.add(row)
    await _flush_unique(db, row.name)
    await audit.record(
        db,
        principal,
        "provider.create",
        ("provider", row.id),
        details={**_summary(row), "models": len(row.models)},
    )
    return row


def _needs_discovery(row: ModelProvider) -> bool:
    """Without a default model or a model list, routing would have no model to ask for."""
    return row.type != "echo" and not row.default_model and not row.models


def _specs(models: list[ModelInfo]) -> list[dict[str, Any]]:
    """Catalog entries for listed models, in the server's order (ids too long to store are
    left out)."""
    fitting = [m for m in models if 0 < len(m.id) <= MODEL_ID_MAX]
    return [
        ModelSpec(id=m.id, display_name=m.display_name).model_dump(by_alias=True)
        for m in fitting[:MAX_MODELS]
    ]


async def _discover(
    runtime: ProviderRuntime, row: ModelProvider, api_key: str | None
) -> list[ModelInfo]:
    try:
        async with asyncio.timeout(DISCOVERY_TIMEOUT), runtime.client(row.type) as http:
            adapter = runtime.adapter(
                row.type,
                http,
                name=row.name,
                base_url=row.base_url,
                api_key=api_key,
                retry=_ONE_TRY,
            )
            return await adapter.list_models()
    except (ProviderError, OutboundRefused, TimeoutError) as exc:
        log.info("provider %s: no model list at create (%s)", row.name, exc)
        return []


@audited("provider.update")
async def update(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    provider_id: str,
    body: ProviderPatchIn,
) -> ModelProvider:
    row = await get_provider(db, provider_id)
    given = body.model_fields_set
    if body.name is not None and body.name != row.name:
        await _ensure_name_free(db, body.name, row.id)
        row.name = body.name
    if "base_url" in given:
        row.base_url = body.base_url
    if "api_key" in given:
        _set_key(row, vault, body.api_key)
    if body.priority is not None:
        row.priority = body.priority
    if body.status is not None:
        row.status = str(body.status)
    if "default_model" in given:
        row.default_model = body.default_model
    if body.models is not None:
        row.models = [m.model_dump(by_alias=True) for m in body.models]
    await _flush_unique(db, row.name)
    changed = sorted(f for f in given if f != "api_key") + (
        ["apiKey"] if "api_key" in given else []
    )
    await audit.record(
        db,
        principal,
        "provider.update",
        ("provider", row.id),
        details={**_summary(row), "changed": changed},
    )
    return row


@audited("provider.delete")
async def delete(db: AsyncSession, principal: Principal, provider_id: str) -> None:
    row = await get_provider(db, provider_id)
    details = _summary(row)
    await db.delete(row)
    await db.flush()
    await audit.record(db, principal, "provider.delete", ("provider", provider_id), details=details)


@audited("provider.test")
async def test(
    db: AsyncSession,
    principal: Principal,
    vault: Vault,
    runtime: ProviderRuntime,
    provider_id: str,
) -> ProviderTestOut:
    """Lists the models and makes one tiny real call through the guarded client. The outcome is
    stored on the provider: a failure sets Error, a success turns Error back into Active
    (Inactive stays Inactive). A destination the SSRF guard refuses is a failed test too.
    The server is asked with no transaction open; the outcome goes to the row as it is then
    (404 if it was deleted meanwhile)."""
    row = await get_provider(db, provider_id)
    result: ProbeResult | None = None
    try:
        key = api_key_of(row, vault)
    except VaultError as exc:
        error: ProbeErrorOut | None = ProbeErrorOut(
            code="key_undecryptable", message=f"The stored API key {exc}."
        )
    else:
        await db.commit()  # nothing written yet; the reads below start a new transaction
        result, error = await _probe(runtime, row, key)
        row = await _current(db, provider_id)
    if result is not None and result.error is not None:
        failure = result.error
        error = ProbeErrorOut(
            code=type(failure).__name__, message=failure.message, status=failure.status
        )
    ok = result is not None and result.ok
    row.last_tested_at = utcnow()
    row.last_latency_ms = result.latency_ms if result is not None else 0.0
    row.last_error = error.message[:_ERROR_TEXT_MAX] if error else None
    if row.status != ProviderStatus.INACTIVE:
        row.status = ProviderStatus.ACTIVE if ok else ProviderStatus.ERROR
    if result is not None and _needs_discovery(row):
        row.models = _specs(result.models)
    await db.flush()
    out = ProviderTestOut(
        ok=ok,
        latency_ms=row.last_latency_ms,
        models=[m.id for m in result.models] if result is not None else [],
        model=result.model if result is not None else None,
        reply=result.reply if result is not None else None,
        error=error,
        status=ProviderStatus(row.status),
    )
    await audit.record(
        db,
        principal,
        "provider.test",
        ("provider", row.id),
        outcome="success" if ok else "failure",
        details={"name": row.name, "latencyMs": out.latency_ms, "error": row.last_error},
    )
    return out


async def _current(db: AsyncSession, provider_id: str) -> ModelProvider:
    """The provider as stored now (another request may have changed it meanwhile)."""
    row = await db.get(ModelProvider, provider_id, populate_existing=True)
    if row is None:
        raise NotFound("The model provider does not exist.", {"id": provider_id})
    return row


async def _probe(
    runtime: ProviderRuntime, row: ModelProvider, key: str | None
) -> tuple[ProbeResult | None, ProbeErrorOut | None]:
    async with runtime.client(row.type) as http:
        adapter = runtime.adapter(row.type, http, name=row.name, base_url=row.base_url, api_key=key)
        try:
            return await probe_provider(adapter, row.default_model), None
        except OutboundRefused as refused:  # raised before any connection is opened
            return None, ProbeErrorOut(code="outbound_refused", message=refused.message)


def _summary(row: ModelProvider) -> dict[str, Any]:
    return {"name": row.name, "type": row.type, "baseUrl": row.base_url, "status": row.status}
