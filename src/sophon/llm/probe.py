"""The provider test behind `POST /api/models/providers/{id}/test`: list models, then a minimal
real call, timed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sophon.llm.base import ChatMessage, ChatRequest, ModelInfo, Provider
from sophon.llm.errors import ProviderBadRequest, ProviderError

PROBE_PROMPT = "Reply with the single word: ok"
PROBE_MAX_TOKENS = 5


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """`latency_ms` covers the whole probe. `error` is the failure when `ok` is False."""

    ok: bool
    latency_ms: float
    models: list[ModelInfo] = field(default_factory=list)
    model: str | None = None
    reply: str | None = None
    error: ProviderError | None = None


async def probe_provider(
    provider: Provider,
    model: str | None = None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> ProbeResult:
    """Lists the models, then (with `model`, else the first model listed) asks for a tiny reply.

    A server without a models endpoint (404/405) is still tested by the call when `model` is
    given. Never raises a ProviderError: it is reported in the result."""
    started = clock()
    models: list[ModelInfo] = []
    try:
        models = await provider.list_models()
    except ProviderBadRequest as exc:
        if model is None or exc.status not in (404, 405):
            return ProbeResult(False, _ms(clock() - started), error=exc)
    except ProviderError as exc:
        return ProbeResult(False, _ms(clock() - started), error=exc)
    target = model or (models[0].id if models else None)
    if target is None:
        return ProbeResult(True, _ms(clock() - started), models)
    request = ChatRequest(
        model=target, messages=[ChatMessage.user(PROBE_PROMPT)], max_tokens=PROBE_MAX_TOKENS
    )
    try:
        response = await provider.complete(request)
    except ProviderError as exc:
        return ProbeResult(False, _ms(clock() - started), models, target, error=exc)
    return ProbeResult(True, _ms(clock() - started), models, target, response.content)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
