"""Model calls share a pooled connection per outbound policy: a provider's next call reuses the
connection the guard vetted for it, and a provider whose policy is stricter never gets one."""

from __future__ import annotations

import httpx
import pytest

from sophon.gateway import Gateway
from sophon.llm import ChatMessage, ChatRequest
from sophon.platform.errors import UpstreamUnavailable
from sophon.providers import routing
from sophon.providers.connect import ProviderRuntime
from tests.identity_helpers import Caller
from tests.llm.fakes import (
    OPENAI_DONE,
    FakeServer,
    JsonReply,
    SseReply,
    openai_chunk,
    openai_completion,
)
from tests.platform.loopback_http import LoopbackOnlyConnector
from tests.providers.provider_helpers import add_provider, tenant_session

HELLO = ChatRequest(model="", messages=[ChatMessage.user("hello")])
LOCAL = "/local/v1/chat/completions"


async def test_calls_to_a_provider_reuse_its_vetted_connection(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
    connector: LoopbackOnlyConnector,
) -> None:
    await add_provider(
        client, admin, name="Local", type="openai", baseUrl=f"{fake.url}/local/v1", defaultModel="m"
    )
    fake.script(
        "POST",
        LOCAL,
        JsonReply(openai_completion("one", model="m")),
        SseReply(
            [openai_chunk({"content": "two"}), openai_chunk(finish_reason="stop"), OPENAI_DONE]
        ),
        JsonReply(openai_completion("three", model="m")),
    )
    async with tenant_session(gateway) as db:
        first = await routing.complete(db, gateway.vault, runtime, HELLO)
        streamed = [e async for e in routing.stream(db, gateway.vault, runtime, HELLO)]
        third = await routing.complete(db, gateway.vault, runtime, HELLO)
    assert (first.content, third.content) == ("one", "three")
    assert streamed
    assert len(connector.attempts) == 1  # one connection opened (and vetted) for three calls
    assert len({r.client for r in fake.received(LOCAL)}) == 1


async def test_a_pooled_loopback_connection_does_not_let_a_stricter_provider_through(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
    connector: LoopbackOnlyConnector,
) -> None:
    """Local model servers are allowed for the `openai` type only: the connection it opened to
    the loopback server stays in its own pool, and an `anthropic` provider at the same origin is
    still refused by the guard."""
    await add_provider(
        client, admin, name="Local", type="openai", baseUrl=f"{fake.url}/local/v1", defaultModel="m"
    )
    await add_provider(
        client, admin, name="Claude", type="anthropic", baseUrl=fake.url, apiKey="k",
        defaultModel="claude",
    )  # fmt: skip
    fake.script("POST", LOCAL, JsonReply(openai_completion("local", model="m")))
    async with tenant_session(gateway) as db:
        answer = await routing.complete(db, gateway.vault, runtime, HELLO, model_ref="Local/m")
        assert answer.content == "local"
        with pytest.raises(UpstreamUnavailable) as caught:
            await routing.complete(db, gateway.vault, runtime, HELLO, model_ref="Claude/claude")
    [failure] = caught.value.details["providers"]
    assert failure["name"] == "Claude"
    assert "refused" in failure["error"]
    assert len(connector.attempts) == 1
    assert fake.received("/v1/messages") == []


async def test_a_cookie_one_call_got_is_not_sent_on_the_next(
    client: httpx.AsyncClient,
    admin: Caller,
    gateway: Gateway,
    fake: FakeServer,
    runtime: ProviderRuntime,
) -> None:
    """The pooled client serves every tenant, so it keeps no cookies (a fresh client per call
    never did)."""
    await add_provider(
        client, admin, name="Local", type="openai", baseUrl=f"{fake.url}/local/v1", defaultModel="m"
    )
    fake.script(
        "POST",
        LOCAL,
        JsonReply(openai_completion("one", model="m"), headers={"set-cookie": "lb=abc; Path=/"}),
        JsonReply(openai_completion("two", model="m")),
    )
    async with tenant_session(gateway) as db:
        await routing.complete(db, gateway.vault, runtime, HELLO)
        await routing.complete(db, gateway.vault, runtime, HELLO)
    assert [r.headers.get("cookie") for r in fake.received(LOCAL)] == [None, None]
