"""The OpenAI-compatible adapter when things go wrong: retries, typed errors, broken streams,
cancellation and timeouts."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import httpx
import pytest

from sophon.llm import (
    Completed,
    OpenAIProvider,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderProtocolError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    RetryPolicy,
    StreamEvent,
    TextDelta,
)
from tests.llm.fakes import (
    OPENAI_DONE,
    FakeServer,
    JsonReply,
    SleepRecorder,
    SseReply,
    openai_chunk,
    openai_completion,
    openai_error,
    refused_url,
    sse,
)
from tests.llm.openai_helpers import CHAT, collect, drain, hello, provider


async def test_rate_limited_then_success_honours_retry_after(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        CHAT,
        JsonReply(openai_error("Rate limit reached", "requests"), 429, {"retry-after": "2"}),
        JsonReply(openai_completion("after the wait")),
    )
    response = await provider(fake, http, sleeps).complete(hello())
    assert response.content == "after the wait"
    assert sleeps.delays == [2.0]
    assert len(fake.received(CHAT)) == 2


async def test_stream_open_is_retried_after_a_503(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        CHAT,
        JsonReply(openai_error("overloaded", "server_error"), 503),
        SseReply([openai_chunk({"content": "ok"}, finish_reason="stop"), OPENAI_DONE]),
    )
    events = await collect(provider(fake, http, sleeps), hello())
    assert events[0] == TextDelta("ok")
    assert sleeps.delays == [0.5]


async def test_server_errors_exhaust_retries_with_backoff(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    failure = JsonReply(openai_error("The server had an error", "server_error"), 500)
    fake.script("POST", CHAT, failure, failure, failure, JsonReply(openai_completion()))
    with pytest.raises(ProviderUnavailable) as caught:
        await provider(fake, http, sleeps).complete(hello())
    error = caught.value
    assert (error.retryable, error.status, error.provider) == (True, 500, "primary")
    assert "The server had an error" in error.message
    assert sleeps.delays == [0.5, 1.0]
    assert len(fake.received(CHAT)) == 3


async def test_unauthorized_is_not_retried(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        CHAT,
        JsonReply(openai_error("Incorrect API key provided", code="invalid_api_key"), 401),
    )
    with pytest.raises(ProviderAuthError) as caught:
        await provider(fake, http, sleeps).complete(hello())
    assert (caught.value.retryable, caught.value.status) == (False, 401)
    assert "Incorrect API key" in caught.value.message
    assert "sk-test" not in caught.value.message
    assert sleeps.delays == []
    assert len(fake.received(CHAT)) == 1


async def test_bad_request_with_ollama_style_error(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("POST", CHAT, JsonReply({"error": 'model "nope" not found'}, 404))
    with pytest.raises(ProviderBadRequest) as caught:
        await provider(fake, http, sleeps).complete(hello())
    assert 'model "nope" not found' in caught.value.message
    assert not caught.value.retryable


async def test_retry_after_beyond_the_cap_fails_over_at_once(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST", CHAT, JsonReply(openai_error("slow down"), 429, {"retry-after-ms": "90000"})
    )
    with pytest.raises(ProviderRateLimited) as caught:
        await provider(fake, http, sleeps).complete(hello())
    assert (caught.value.retry_after, caught.value.retryable) == (90.0, True)
    assert sleeps.delays == []


async def test_connection_refused_is_retried_then_unavailable(
    http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    p = OpenAIProvider(http, base_url=refused_url(), sleep=sleeps, retry=RetryPolicy(max_retries=1))
    with pytest.raises(ProviderUnavailable) as caught:
        await p.complete(hello())
    assert (caught.value.retryable, caught.value.status) == (True, None)
    assert sleeps.delays == [0.5]


async def test_error_chunk_mid_stream(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        CHAT,
        SseReply(
            [openai_chunk({"content": "par"}), sse({"error": {"message": "boom", "code": 503}})]
        ),
    )
    events: list[StreamEvent] = []
    with pytest.raises(ProviderUnavailable, match="boom"):
        await drain(provider(fake, http, sleeps).stream(hello()), events)
    assert events == [TextDelta("par")]


async def test_stream_that_stops_early_is_unavailable(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("POST", CHAT, SseReply([openai_chunk({"content": "par"})]))
    with pytest.raises(ProviderUnavailable, match="ended before"):
        await collect(provider(fake, http, sleeps), hello())


async def test_connection_dropped_mid_stream_is_unavailable(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("POST", CHAT, SseReply([openai_chunk({"content": "par"})], abort=True))
    with pytest.raises(ProviderUnavailable):
        await collect(provider(fake, http, sleeps), hello())
    assert sleeps.delays == []  # a stream that already delivered text is never replayed


async def test_garbage_response_is_a_protocol_error(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("POST", CHAT, JsonReply(b"<html>gateway</html>"), JsonReply({"choices": []}))
    p = provider(fake, http, sleeps)
    with pytest.raises(ProviderProtocolError, match="not JSON"):
        await p.complete(hello())
    with pytest.raises(ProviderProtocolError, match="unexpected response shape"):
        await p.complete(hello())


async def test_cancelling_the_consumer_closes_the_connection(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    reply = SseReply([openai_chunk({"content": "thinking"})], hold_open=True)
    fake.script("POST", CHAT, reply)
    first = asyncio.Event()
    seen: list[StreamEvent] = []

    async def consume() -> None:
        async with aclosing(provider(fake, http, sleeps).stream(hello())) as stream:
            async for event in stream:
                seen.append(event)
                first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await asyncio.to_thread(reply.disconnected.wait, 5)
    assert seen == [TextDelta("thinking")]


async def test_timeouts_are_applied_and_mapped(sleeps: SleepRecorder) -> None:
    seen: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ReadTimeout("read timed out", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        p = OpenAIProvider(client, base_url="http://127.0.0.1:9/v1", timeout=3.0, sleep=sleeps)
        with pytest.raises(ProviderUnavailable) as caught:
            await p.complete(hello())
    assert isinstance(caught.value, ProviderTimeout)
    assert caught.value.retryable
    assert seen == [{"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}]
    assert sleeps.delays == []  # the request was sent: a read timeout is not replayed


async def test_a_stream_held_open_after_done_still_answers_and_is_closed(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    """The end of the body after `[DONE]` is waited for briefly: a server that keeps the
    stream open gets its connection closed, and the answer is complete."""
    done = [openai_chunk({"content": "Hi"}), openai_chunk({}, finish_reason="stop"), OPENAI_DONE]
    reply = SseReply(done, hold_open=True)
    fake.script("POST", CHAT, reply)
    async with asyncio.timeout(5):
        events = await collect(provider(fake, http, sleeps), hello())
    assert events[0] == TextDelta("Hi")
    assert isinstance(events[-1], Completed)
    assert events[-1].response.content == "Hi"
    assert await asyncio.to_thread(reply.disconnected.wait, 5)
