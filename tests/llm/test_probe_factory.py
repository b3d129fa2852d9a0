"""The provider test call and building adapters from their configured type."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sophon.llm import (
    AnthropicProvider,
    EchoProvider,
    OpenAIProvider,
    ProviderAuthError,
    UnknownProviderType,
    build_provider,
    probe_provider,
)
from tests.llm.fakes import (
    FakeServer,
    JsonReply,
    SleepRecorder,
    openai_completion,
    openai_error,
)


def ticking() -> Callable[[], float]:
    times = iter([10.0, 10.25])
    return lambda: next(times)


async def test_probe_echo() -> None:
    result = await probe_provider(EchoProvider(), clock=ticking())
    assert result.ok
    assert result.latency_ms == 250.0
    assert [m.id for m in result.models] == ["echo"]
    assert result.model == "echo"
    assert (result.reply or "").startswith("(offline echo model)")


async def test_probe_openai_lists_models_then_calls(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "GET", "/v1/models", JsonReply({"object": "list", "data": [{"id": "m1"}, {"id": "m2"}]})
    )
    fake.script("POST", "/v1/chat/completions", JsonReply(openai_completion("ok")))
    provider = OpenAIProvider(http, base_url=f"{fake.url}/v1", sleep=sleeps)
    result = await probe_provider(provider, "m2")
    assert (result.ok, result.model, result.reply, result.error) == (True, "m2", "ok", None)
    assert [m.id for m in result.models] == ["m1", "m2"]
    sent = fake.received("/v1/chat/completions")[0].json()
    assert (sent["model"], sent["max_tokens"]) == ("m2", 5)


async def test_probe_without_models_endpoint_still_calls(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("GET", "/v1/models", JsonReply({"error": "not found"}, 404))
    fake.script("POST", "/v1/chat/completions", JsonReply(openai_completion("ok")))
    result = await probe_provider(
        OpenAIProvider(http, base_url=f"{fake.url}/v1", sleep=sleeps), "m"
    )
    assert (result.ok, result.models, result.reply) == (True, [], "ok")


async def test_probe_reports_failure(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("GET", "/v1/models", JsonReply(openai_error("bad key"), 401))
    result = await probe_provider(OpenAIProvider(http, base_url=f"{fake.url}/v1", sleep=sleeps))
    assert not result.ok
    assert isinstance(result.error, ProviderAuthError)
    assert len(fake.received("/v1/chat/completions")) == 0


async def test_build_provider(http: httpx.AsyncClient) -> None:
    assert isinstance(build_provider("echo", None), EchoProvider)
    openai = build_provider("openai", http, name="prov_1", base_url="http://127.0.0.1:1/v1")
    assert isinstance(openai, OpenAIProvider)
    assert openai.name == "prov_1"
    assert isinstance(build_provider("anthropic", http, api_key="k"), AnthropicProvider)
    with pytest.raises(UnknownProviderType):
        build_provider("gemini", http)
    with pytest.raises(ValueError, match="needs an HTTP client"):
        build_provider("openai", None)
