"""The Anthropic adapter against a loopback server speaking the Messages API."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from sophon.llm import (
    AnthropicProvider,
    ChatMessage,
    ChatRequest,
    Completed,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderUnavailable,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolSpec,
)
from tests.llm.fakes import (
    FakeServer,
    JsonReply,
    SleepRecorder,
    SseReply,
    anthropic_error,
    anthropic_event,
    anthropic_message,
)

MESSAGES = "/v1/messages"
SEARCH = ToolSpec("memory.search", "Search memory", {"type": "object", "properties": {}})


def provider(fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder) -> AnthropicProvider:
    # A base URL with /v1 is accepted too: the adapter adds the version path itself.
    return AnthropicProvider(
        http, api_key="sk-ant-test", base_url=f"{fake.url}/v1/", name="claude", sleep=sleeps
    )


def conversation() -> ChatRequest:
    earlier = [
        ToolCall.from_raw("toolu_1", "memory.search", '{"query":"cats"}'),
        ToolCall.from_raw("toolu_2", "web.fetch", '{"url":"https://x.test"}'),
    ]
    return ChatRequest(
        "claude-test",
        [
            ChatMessage.system("You are Sophon."),
            ChatMessage.system("Be brief."),
            ChatMessage.user("Look things up"),
            ChatMessage.assistant("Searching.", earlier),
            ChatMessage.tool("toolu_1", "3 cats"),
            ChatMessage.tool("toolu_2", "404", is_error=True),
            ChatMessage.user("And?"),
        ],
        tools=[SEARCH],
        temperature=0.5,
        stop=["END"],
    )


def stream_reply(*blocks: bytes) -> SseReply:
    start: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-test-4",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 25, "cache_read_input_tokens": 5, "output_tokens": 1},
    }
    return SseReply([anthropic_event("message_start", message=start), *blocks])


def text_block(index: int, *pieces: str) -> list[bytes]:
    return [
        anthropic_event(
            "content_block_start", index=index, content_block={"type": "text", "text": ""}
        ),
        *[
            anthropic_event(
                "content_block_delta", index=index, delta={"type": "text_delta", "text": p}
            )
            for p in pieces
        ],
        anthropic_event("content_block_stop", index=index),
    ]


def tool_block(index: int, call_id: str, name: str, *pieces: str) -> list[bytes]:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    return [
        anthropic_event("content_block_start", index=index, content_block=block),
        *[
            anthropic_event(
                "content_block_delta",
                index=index,
                delta={"type": "input_json_delta", "partial_json": p},
            )
            for p in pieces
        ],
        anthropic_event("content_block_stop", index=index),
    ]


def ending(stop_reason: str, output_tokens: int) -> list[bytes]:
    return [
        anthropic_event(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        ),
        anthropic_event("message_stop"),
    ]


async def collect(p: AnthropicProvider, request: ChatRequest) -> list[StreamEvent]:
    return [event async for event in p.stream(request)]


async def test_completion_request_and_response_shapes(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_9", "name": "memory__search", "input": {"q": "dogs"}},
    ]
    fake.script("POST", MESSAGES, JsonReply(anthropic_message(content, "tool_use", (40, 12))))
    response = await provider(fake, http, sleeps).complete(conversation())
    assert response.content == "Let me check."
    assert response.tool_calls == [
        ToolCall("toolu_9", "memory.search", {"q": "dogs"}, '{"q": "dogs"}')
    ]
    assert (response.finish_reason, response.model) == ("tool_calls", "claude-test-4")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (40, 12)

    [sent] = fake.received(MESSAGES)
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.json() == {
        "model": "claude-test",
        "max_tokens": 4096,
        "system": "You are Sophon.\n\nBe brief.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Look things up"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Searching."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "memory__search",
                        "input": {"query": "cats"},
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_2",
                        "name": "web__fetch",
                        "input": {"url": "https://x.test"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "3 cats"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": "404",
                        "is_error": True,
                    },
                    {"type": "text", "text": "And?"},
                ],
            },
        ],
        "tools": [
            {
                "name": "memory__search",
                "description": "Search memory",
                "input_schema": {"type": "object", "properties": {}},
            }
        ],
        "temperature": 0.5,
        "stop_sequences": ["END"],
    }


async def test_streaming_text_and_tool_use(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        MESSAGES,
        stream_reply(
            anthropic_event("ping"),
            *text_block(0, "Look", "ing up"),
            *tool_block(1, "toolu_a", "memory__search", "", '{"query": ', '"cats"}'),
            *tool_block(2, "toolu_b", "web__fetch"),
            *ending("tool_use", 31),
        ),
    )
    request = ChatRequest("claude-test", [ChatMessage.user("hi")], tools=[SEARCH], max_tokens=64)
    events = await collect(provider(fake, http, sleeps), request)
    search = ToolCall("toolu_a", "memory.search", {"query": "cats"}, '{"query": "cats"}')
    fetch = ToolCall("toolu_b", "web.fetch", {}, "")
    assert events[:-1] == [
        TextDelta("Look"),
        TextDelta("ing up"),
        ToolCallStarted(0, "toolu_a", "memory.search"),
        ToolCallDelta(0, '{"query": '),
        ToolCallDelta(0, '"cats"}'),
        ToolCallReady(0, search),
        ToolCallStarted(1, "toolu_b", "web.fetch"),
        ToolCallReady(1, fetch),
    ]
    assert isinstance(events[-1], Completed)
    response = events[-1].response
    assert (response.content, response.tool_calls) == ("Looking up", [search, fetch])
    assert (response.finish_reason, response.model) == ("tool_calls", "claude-test-4")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 31)
    body = fake.received(MESSAGES)[0].json()
    assert (body["stream"], body["max_tokens"]) == (True, 64)


async def test_malformed_streamed_input_json(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        MESSAGES,
        stream_reply(
            *tool_block(0, "toolu_x", "memory__search", '{"query": tru'), *ending("tool_use", 5)
        ),
    )
    events = await collect(provider(fake, http, sleeps), conversation())
    [ready] = [e for e in events if isinstance(e, ToolCallReady)]
    assert (ready.call.arguments, ready.call.raw_arguments) == ({}, '{"query": tru')
    assert "not valid JSON" in (ready.call.arguments_error or "")


async def test_error_event_mid_stream_is_typed(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    overloaded = anthropic_event(
        "error", error={"type": "overloaded_error", "message": "Overloaded"}
    )
    fake.script("POST", MESSAGES, stream_reply(*text_block(0, "Hi")[:2], overloaded))
    with pytest.raises(ProviderUnavailable, match="Overloaded") as caught:
        await collect(provider(fake, http, sleeps), conversation())
    assert (caught.value.retryable, caught.value.status, caught.value.provider) == (
        True,
        529,
        "claude",
    )


async def test_overloaded_529_is_retried(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        MESSAGES,
        JsonReply(anthropic_error("Overloaded", "overloaded_error"), 529),
        JsonReply(anthropic_error("Slow down", "rate_limit_error"), 429, {"retry-after": "1"}),
        JsonReply(anthropic_message([{"type": "text", "text": "fine"}])),
    )
    response = await provider(fake, http, sleeps).complete(conversation())
    assert response.content == "fine"
    assert sleeps.delays == [0.5, 1.0]


async def test_rate_limit_exhausted(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    limited = JsonReply(anthropic_error("Slow down", "rate_limit_error"), 429, {"retry-after": "3"})
    fake.script("POST", MESSAGES, limited, limited, limited)
    with pytest.raises(ProviderRateLimited) as caught:
        await provider(fake, http, sleeps).complete(conversation())
    assert (caught.value.retry_after, caught.value.retryable) == (3.0, True)
    assert sleeps.delays == [3.0, 3.0]


async def test_auth_and_bad_request_are_not_retried(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        MESSAGES,
        JsonReply(anthropic_error("invalid x-api-key", "authentication_error"), 401),
        JsonReply(anthropic_error("prompt is too long", "invalid_request_error"), 400),
    )
    p = provider(fake, http, sleeps)
    with pytest.raises(ProviderAuthError, match="authentication_error: invalid x-api-key"):
        await p.complete(conversation())
    with pytest.raises(ProviderBadRequest, match="prompt is too long"):
        await p.complete(conversation())
    assert sleeps.delays == []
    assert len(fake.received(MESSAGES)) == 2


async def test_cancelling_mid_stream_closes_the_connection(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    reply = stream_reply(*text_block(0, "Once upon")[:2])
    reply.hold_open = True
    fake.script("POST", MESSAGES, reply)
    first = asyncio.Event()

    async def consume() -> None:
        async with aclosing(provider(fake, http, sleeps).stream(conversation())) as stream:
            async for _ in stream:
                first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(reply.disconnected.wait, 5)


async def test_list_models_follows_pages(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    def page(ids: list[str], has_more: bool) -> JsonReply:
        data = [
            {
                "type": "model",
                "id": i,
                "display_name": i.upper(),
                "created_at": "2025-01-01T00:00:00Z",
            }
            for i in ids
        ]
        return JsonReply(
            {"data": data, "has_more": has_more, "first_id": ids[0], "last_id": ids[-1]}
        )

    fake.script(
        "GET", "/v1/models", page(["claude-a", "claude-b"], True), page(["claude-c"], False)
    )
    models = await provider(fake, http, sleeps).list_models()
    assert [(m.id, m.display_name) for m in models] == [
        ("claude-a", "CLAUDE-A"),
        ("claude-b", "CLAUDE-B"),
        ("claude-c", "CLAUDE-C"),
    ]
    queries = [r.query for r in fake.received("/v1/models")]
    assert queries == ["limit=1000", "limit=1000&after_id=claude-b"]
    assert fake.received("/v1/models")[0].headers["x-api-key"] == "sk-ant-test"


async def test_streamed_answers_reuse_one_connection(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    """The body's end after `message_stop` is read: the next stream reuses the connection."""
    for _ in range(2):
        fake.script("POST", MESSAGES, stream_reply(*text_block(0, "Hi"), *ending("end_turn", 1)))
    p = provider(fake, http, sleeps)
    for _ in range(2):
        events = await collect(p, ChatRequest("claude-test", [ChatMessage.user("hi")]))
        assert isinstance(events[-1], Completed)
    first, second = fake.received(MESSAGES)
    assert first.client is not None
    assert first.client == second.client
