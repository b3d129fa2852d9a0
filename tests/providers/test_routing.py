"""The routing service: priority order, failover, 502 naming every failed provider, the echo
fallback, model references, and the streaming twin."""

from __future__ import annotations

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.llm import ChatMessage, ChatRequest, Completed, TextDelta
from sophon.platform.errors import InvalidRequest, UpstreamUnavailable
from sophon.providers import routing
from sophon.providers.connect import ProviderRuntime
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    OPENAI_DONE,
    FakeServer,
    JsonReply,
    SseReply,
    anthropic_error,
    openai_chunk,
    openai_completion,
    openai_error,
    refused_url,
)
from tests.providers.provider_helpers import add_provider, tenant_session

HELLO = ChatRequest(model="", messages=[ChatMessage.user("hello")])
# Two OpenAI-compatible "servers" on the one fake: distinct base paths.
FLAKY, GOOD = "/flaky/v1/chat/completions", "/good/v1/chat/completions"


def overloaded() -> JsonReply:
    return JsonReply(openai_error("overloaded", "server_error"), 500)


async def two_providers(client: httpx.AsyncClient, admin: Caller, fake: FakeServer) -> None:
    await add_provider(
        client,
        admin,
        name="Good",
        type="openai",
        baseUrl=f"{fake.url}/good/v1",
        priority=2,
        defaultModel="good-model",
    )
    await add_provider(
        client,
        admin,
        name="Flaky",
        type="openai",
        baseUrl=f"{fake.url}/flaky/v1",
        priority=1,
        defaultModel="flaky-model",
    )


async def test_fails_over_from_a_failing_provider_to_the_next(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    await two_providers(client, admin, fake)
    fake.script("POST", FLAKY, overloaded(), overloaded(), overloaded())
    fake.script("POST", GOOD, JsonReply(openai_completion("from good", model="good-model")))
    async with tenant_session(gateway) as db:
        answer = await routing.complete(db, gateway.vault, gateway.model_runtime, HELLO)
    assert (answer.content, answer.model) == ("from good", "good-model")
    assert len(fake.received(FLAKY)) == 3  # the adapter's own retries came first
    assert runtime.sleep.delays == [0.5, 1.0]  # type: ignore[attr-defined]
    assert fake.received(GOOD)[0].json()["model"] == "good-model"


async def test_all_failing_is_502_naming_each_provider(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    await two_providers(client, admin, fake)
    fake.script("POST", FLAKY, *[overloaded()] * 3)
    fake.script("POST", GOOD, *[JsonReply(openai_error("slow down", "rate_limit"), 429)] * 3)
    async with tenant_session(gateway) as db:
        with pytest.raises(UpstreamUnavailable) as caught:
            await routing.complete(db, gateway.vault, gateway.model_runtime, HELLO)
    failed = caught.value.details["providers"]
    assert [(f["name"], f["status"], f["retryable"]) for f in failed] == [
        ("Flaky", 500, True),
        ("Good", 429, True),
    ]
    assert "Flaky, Good" in caught.value.message
    assert caught.value.status == 502


async def test_bad_request_stops_and_unreachable_fails_over(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    await add_provider(
        client, admin, name="Down", type="openai", baseUrl=refused_url(), defaultModel="m"
    )
    await add_provider(
        client,
        admin,
        name="Picky",
        type="openai",
        baseUrl=f"{fake.url}/good/v1",
        priority=5,
        defaultModel="m",
    )
    await add_provider(client, admin, name="Never", type="echo", priority=9, defaultModel="echo")
    fake.script("POST", GOOD, JsonReply(openai_error("context too long"), 400))
    async with tenant_session(gateway) as db:
        with pytest.raises(UpstreamUnavailable) as caught:
            await routing.complete(db, gateway.vault, gateway.model_runtime, HELLO)
    assert [f["name"] for f in caught.value.details["providers"]] == ["Down", "Picky"]


async def test_no_enabled_provider_routes_to_the_echo_model(
    client: httpx.AsyncClient, admin: Caller, gateway: Gateway, runtime: ProviderRuntime
) -> None:
    async with tenant_session(gateway) as db:
        answer = await routing.complete(
            db, gateway.vault, gateway.model_runtime, HELLO, model_ref="whatever"
        )
    assert answer.content == "(offline echo model) You said: hello"
    await add_provider(
        client, admin, name="Off", type="openai", status="Inactive", defaultModel="m"
    )
    async with tenant_session(gateway) as db:
        answer = await routing.complete(db, gateway.vault, gateway.model_runtime, HELLO)
        assert answer.content.startswith("(offline echo model)")
        with pytest.raises(InvalidRequest, match="inactive"):
            await routing.complete(
                db, gateway.vault, gateway.model_runtime, HELLO, model_ref="Off/m"
            )


async def test_model_references(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    await two_providers(client, admin, fake)
    await client.patch(
        "/api/models/providers/"
        + (await client.get("/api/models/providers", headers=admin.headers)).json()["items"][1][
            "id"
        ],
        headers=admin.headers,
        json={"models": [{"id": "vendor/special"}]},
    )  # Good (priority 2) now lists a model whose id contains a slash
    fake.script("POST", GOOD, *[JsonReply(openai_completion("good"))] * 2)
    fake.script("POST", FLAKY, overloaded(), overloaded(), overloaded())
    async with tenant_session(gateway) as db:
        assert (
            await routing.complete(
                db, gateway.vault, gateway.model_runtime, HELLO, model_ref="vendor/special"
            )
        ).content == "good"
        assert (
            await routing.complete(
                db, gateway.vault, gateway.model_runtime, HELLO, model_ref="Good/x/y"
            )
        ).content == "good"
        with pytest.raises(UpstreamUnavailable) as pinned:
            await routing.complete(
                db, gateway.vault, gateway.model_runtime, HELLO, model_ref="Flaky/m"
            )
        echo = await routing.complete(
            db, gateway.vault, gateway.model_runtime, HELLO, model_ref="echo/echo"
        )
    assert [r.json()["model"] for r in fake.received(GOOD)] == ["vendor/special", "x/y"]
    assert [f["name"] for f in pinned.value.details["providers"]] == ["Flaky"]
    assert echo.content.startswith("(offline echo model)")


async def test_stream_fails_over_before_the_first_event(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    await two_providers(client, admin, fake)
    fake.script("POST", FLAKY, *[overloaded()] * 3)
    chunks = [
        openai_chunk({"role": "assistant", "content": "str"}),
        openai_chunk({"content": "eamed"}),
        openai_chunk(finish_reason="stop"),
        OPENAI_DONE,
    ]
    fake.script("POST", GOOD, SseReply(chunks))
    async with tenant_session(gateway) as db:
        events = [
            event async for event in routing.stream(db, gateway.vault, gateway.model_runtime, HELLO)
        ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "streamed"
    assert isinstance(events[-1], Completed)
    assert events[-1].response.content == "streamed"

    fake.script("POST", FLAKY, *[overloaded()] * 3)
    fake.script("POST", GOOD, *[overloaded()] * 3)
    async with tenant_session(gateway) as db:
        with pytest.raises(UpstreamUnavailable) as caught:
            _ = [
                event
                async for event in routing.stream(db, gateway.vault, gateway.model_runtime, HELLO)
            ]
    assert [f["name"] for f in caught.value.details["providers"]] == ["Flaky", "Good"]


async def test_stream_breaking_after_the_first_event_is_502_without_failover(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    await two_providers(client, admin, fake)
    fake.script("POST", FLAKY, SseReply([openai_chunk({"content": "par"})], abort=True))
    received: list[object] = []

    async def consume() -> None:
        async with tenant_session(gateway) as db:
            async for event in routing.stream(db, gateway.vault, gateway.model_runtime, HELLO):
                received.append(event)

    with pytest.raises(UpstreamUnavailable) as caught:
        await consume()
    assert received == [TextDelta("par")]
    assert [f["name"] for f in caught.value.details["providers"]] == ["Flaky"]
    assert fake.received(GOOD) == []


async def test_anthropic_rate_limited_fails_over_after_backoff(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    runtime.allow = ("127.0.0.1",)
    await add_provider(
        client,
        admin,
        name="Claude",
        type="anthropic",
        baseUrl=fake.url,
        apiKey="sk-ant-key",
        defaultModel="claude-test-4",
    )
    await add_provider(client, admin, name="Spare", type="echo", priority=2, defaultModel="echo")
    limited = JsonReply(anthropic_error("slow down", "rate_limit_error"), 429, {"retry-after": "3"})
    fake.script("POST", "/v1/messages", limited, limited, limited)
    async with tenant_session(gateway) as db:
        answer = await routing.complete(db, gateway.vault, gateway.model_runtime, HELLO)
    assert answer.content == "(offline echo model) You said: hello"
    assert len(fake.received("/v1/messages")) == 3
    assert runtime.sleep.delays == [3.0, 3.0]  # type: ignore[attr-defined]
