"""Routes a chat request to the tenant's model providers by priority, with failover, falling back
to the built-in offline echo provider when the tenant has no enabled provider."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.llm import (
    ChatRequest,
    ChatResponse,
    Provider,
    ProviderAuthError,
    ProviderError,
    StreamEvent,
)
from sophon.platform.errors import InvalidRequest, UpstreamUnavailable
from sophon.platform.memo import Memo
from sophon.platform.netguard import OutboundRefused
from sophon.platform.tenancy import session_tenant
from sophon.platform.vault import Vault, VaultError
from sophon.providers.connect import ProviderRuntime
from sophon.providers.models import ModelProvider
from sophon.providers.schemas import ProviderStatus
from sophon.providers.service import api_key_of, list_providers

ECHO_PROVIDER = "echo"
ECHO_MODEL = "echo"


@dataclass(frozen=True)
class Candidate:
    """One provider to try, with the model to ask it for; `problem` is set when it cannot be
    tried at all (no model, undecryptable key) and is reported as its failure."""

    name: str
    type: str
    model: str
    provider_id: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    problem: str | None = None


def _echo(model: str = ECHO_MODEL) -> Candidate:
    return Candidate(name=ECHO_PROVIDER, type="echo", model=model)


def _model_ids(row: ModelProvider) -> list[str]:
    return [str(m["id"]) for m in row.models if isinstance(m, dict) and "id" in m]


def _candidate(row: ModelProvider, vault: Vault, model: str | None) -> Candidate:
    base = Candidate(
        name=row.name, type=row.type, model=model or "", provider_id=row.id, base_url=row.base_url
    )
    if not model:
        return replace(
            base,
            problem="no model given, and the provider has no default model and lists no models "
            "(set its defaultModel, or test it to fetch the models its server lists)",
        )
    try:
        return replace(base, api_key=api_key_of(row, vault))
    except VaultError as exc:
        return replace(base, problem=f"its API key cannot be decrypted: {exc}")


_PLANS: Memo[tuple[Candidate, ...]] = Memo({"model_providers"})
_WINDOWS: Memo[int | None] = Memo({"model_providers"})


async def plan(db: AsyncSession, vault: Vault, model_ref: str | None) -> list[Candidate]:
    """`plan_now`, kept in memory until the tenant's providers change (`Memo`): every turn and
    every memory job asks for it."""

    async def load() -> tuple[Candidate, ...]:
        return tuple(await plan_now(db, vault, model_ref))

    return list(await _PLANS.get(db, (session_tenant(db.sync_session), model_ref), load))


async def plan_now(db: AsyncSession, vault: Vault, model_ref: str | None) -> list[Candidate]:
    """The providers to try for `model_ref`, in order.

    Routable providers are the Active ones by `priority` (lower first, then name), then the Error
    ones in the same order as a last resort; Inactive ones never. With no routable provider at
    all, the built-in echo provider answers (whatever the reference, unless it pins a provider).

    Model references:
    - `None`: every routable provider, each with its `defaultModel` (else its first model).
    - `"<provider name>/<model id>"`: only that provider (pinned, no failover); an Inactive one
      is a 400. Model ids may contain `/` (`OpenRouter/openai/gpt-4o`): only the part before the
      first `/` is matched against the tenant's provider names.
    - `"<model id>"`: the routable providers that list this model, in order; when none lists it,
      every routable provider is tried with it.
    - `"echo"` or `"echo/<anything>"` (when no provider is named `echo`): the built-in echo."""
    rows = await list_providers(db)
    by_name = {row.name: row for row in rows}
    routable = [r for r in rows if r.status == ProviderStatus.ACTIVE]
    routable += [r for r in rows if r.status == ProviderStatus.ERROR]
    if model_ref:
        prefix, slash, rest = model_ref.partition("/")
        pinned = by_name.get(prefix) if slash else None
        if pinned is not None:
            if pinned.status == ProviderStatus.INACTIVE:
                raise InvalidRequest(
                    f"The model provider {pinned.name!r} is inactive.", {"provider": pinned.name}
                )
            return [_candidate(pinned, vault, rest)]
        if prefix == ECHO_PROVIDER:
            return [_echo(rest or ECHO_MODEL)]
    if not routable:
        return [_echo()]
    if model_ref is None:
        return [
            _candidate(r, vault, r.default_model or next(iter(_model_ids(r)), None))
            for r in routable
        ]
    listing = [r for r in routable if model_ref in _model_ids(r)]
    return [_candidate(r, vault, model_ref) for r in listing or routable]


async def context_window(db: AsyncSession, candidates: list[Candidate]) -> int | None:
    """The context window the catalog declares for the first of `candidates` (a `plan`); None
    when the catalog does not say (or the echo provider answers)."""
    first = candidates[0]
    if not first.provider_id:
        return None
    provider_id = first.provider_id

    async def load() -> int | None:
        row = await db.get(ModelProvider, provider_id)
        specs = row.models if row is not None else []
        spec = next((m for m in specs if isinstance(m, dict) and m.get("id") == first.model), {})
        window = spec.get("contextWindow")
        return int(window) if window else None

    return await _WINDOWS.get(db, (provider_id, first.model), load)


@asynccontextmanager
async def _adapter(runtime: ProviderRuntime, candidate: Candidate) -> AsyncIterator[Provider]:
    if candidate.type == "echo":
        yield runtime.adapter("echo", None, name=candidate.name, base_url=None, api_key=None)
        return
    async with runtime.client(candidate.type) as http:
        yield runtime.adapter(
            candidate.type,
            http,
            name=candidate.name,
            base_url=candidate.base_url,
            api_key=candidate.api_key,
        )


def _failure(candidate: Candidate, error: Exception | str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": candidate.name, "id": candidate.provider_id}
    if isinstance(error, ProviderError):
        entry.update(error=error.message, status=error.status, retryable=error.retryable)
    elif isinstance(error, OutboundRefused):
        entry.update(error=error.message, status=None, retryable=False)
    else:
        entry.update(error=str(error), status=None, retryable=False)
    return entry


def _fails_over(error: Exception) -> bool:
    if isinstance(error, ProviderError):
        return error.retryable or isinstance(error, ProviderAuthError)
    return True  # refused destination: this provider's configuration, not the request


def all_failed(failures: list[dict[str, Any]]) -> UpstreamUnavailable:
    names = ", ".join(f["name"] for f in failures)
    first = failures[0]["error"] if failures else "no provider was tried"
    return UpstreamUnavailable(
        f"No model provider could answer ({names}): {first}", {"providers": failures}
    )


async def complete(
    db: AsyncSession,
    vault: Vault,
    model_runtime: ProviderRuntime,
    request: ChatRequest,
    *,
    model_ref: str | None = None,
) -> ChatResponse:
    """One answer from the first provider that gives one (order and references: `plan`);
    `request.model` is replaced by the routed model.

    A provider failing with a retryable error (connection, timeout, 5xx, 429 after the adapter's
    own retries with backoff, a garbled answer), an auth error, a destination the SSRF guard
    refuses or an undecryptable key fails over to the next; a request the upstream rejects as
    invalid (other 4xx) stops the walk. When nothing answered: 502 `upstream_unavailable` whose
    `details.providers` lists each attempt's name, id, error, status and retryable flag.
    Routing never changes a provider's stored status; `POST .../test` does."""
    candidates = await plan(db, vault, model_ref)
    return (await complete_with(model_runtime, candidates, request))[1]


async def complete_with(
    model_runtime: ProviderRuntime, candidates: list[Candidate], request: ChatRequest
) -> tuple[Candidate, ChatResponse]:
    """`complete` over candidates planned earlier (no database needed); also says who answered."""
    failures: list[dict[str, Any]] = []
    for candidate in candidates:
        if candidate.problem:
            failures.append(_failure(candidate, candidate.problem))
            continue
        try:
            async with _adapter(model_runtime, candidate) as provider:
                answer = await provider.complete(replace(request, model=candidate.model))
                return candidate, answer
        except (ProviderError, OutboundRefused) as exc:
            failures.append(_failure(candidate, exc))
            if not _fails_over(exc):
                break
    raise all_failed(failures)


async def stream(
    db: AsyncSession,
    vault: Vault,
    model_runtime: ProviderRuntime,
    request: ChatRequest,
    *,
    model_ref: str | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """The streaming twin of `complete`. Failover happens only before the first event; a
    provider failing mid-stream raises 502 naming it (what was sent cannot be unsent)."""
    candidates = await plan(db, vault, model_ref)
    async with aclosing(stream_with(model_runtime, candidates, request)) as events:
        async for event in events:
            yield event


async def stream_with(
    model_runtime: ProviderRuntime,
    candidates: list[Candidate],
    request: ChatRequest,
    used: list[Candidate] | None = None,
) -> AsyncGenerator[StreamEvent, None]:
    """`stream` over candidates planned earlier; appends the one that answers to `used`."""
    failures: list[dict[str, Any]] = []
    for candidate in candidates:
        if candidate.problem:
            failures.append(_failure(candidate, candidate.problem))
            continue
        try:
            async with (
                _adapter(model_runtime, candidate) as provider,
                aclosing(provider.stream(replace(request, model=candidate.model))) as events,
            ):
                try:
                    first = await anext(events)
                except StopAsyncIteration:
                    return
                if used is not None:
                    used.append(candidate)
                yield first
                try:
                    async for event in events:
                        yield event
                except (ProviderError, OutboundRefused) as exc:
                    raise all_failed([*failures, _failure(candidate, exc)]) from exc
                return
        except (ProviderError, OutboundRefused) as exc:
            failures.append(_failure(candidate, exc))
            if not _fails_over(exc):
                break
    raise all_failed(failures)
