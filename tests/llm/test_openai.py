"""The OpenAI-compatible adapter against a loopback server speaking Chat Completions."""

from __future__ import annotations

import json

import httpx

from sophon.llm import (
    ChatMessage,
    ChatRequest,
    Completed,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolSpec,
)
from tests.llm.fakes import (
    OPENAI_DONE,
    FakeServer,
    JsonReply,
    SleepRecorder,
    SseReply,
    openai_chunk,
    openai_completion,
    openai_tool_call,
    sse,
)
from tests.llm.openai_helpers import CHAT, SEARCH, collect, hello, provider


async def test_plain_completion(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script("POST", CHAT, JsonReply(openai_completion("Hello there!", usage=(12, 3))))
    response = await provider(fake, http, sleeps).complete(
        hello(temperature=0.2, max_tokens=50, stop=["\n\n"])
    )
    assert response.content == "Hello there!"
    assert response.tool_calls == []
    assert response.finish_reason == "stop"
    assert response.model == "gpt-test-2024"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 3)
    assert not response.usage.estimated
    [sent] = fake.received(CHAT)
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json() == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["\n\n"],
    }


async def test_tool_names_are_mapped_both_ways(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    reply = openai_completion(
        None, [openai_tool_call("call_9", "memory__search", '{"query": "cats"}')], "tool_calls"
    )
    fake.script("POST", CHAT, JsonReply(reply))
    earlier = ToolCall.from_raw("call_1", "memory.search", '{"query":"dogs"}')
    request = ChatRequest(
        "gpt-test",
        [
            ChatMessage.user("find"),
            ChatMessage.assistant("", [earlier]),
            ChatMessage.tool("call_1", "no dogs", name="memory.search"),
        ],
        tools=[SEARCH],
    )
    response = await provider(fake, http, sleeps).complete(request)
    assert response.tool_calls == [
        ToolCall("call_9", "memory.search", {"query": "cats"}, '{"query": "cats"}')
    ]
    assert response.finish_reason == "tool_calls"
    body = fake.received(CHAT)[0].json()
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "memory__search",
                "description": "Search memory",
                "parameters": SEARCH.parameters,
            },
        }
    ]
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "memory__search", "arguments": '{"query":"dogs"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "no dogs"},
    ]


async def test_malformed_tool_arguments_become_an_error_result(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    calls = [openai_tool_call("call_1", "memory__search", '{"query": "ca')]
    # Ollama ends tool-call turns with "stop"; the adapter still reports tool_calls.
    fake.script("POST", CHAT, JsonReply(openai_completion("", calls, "stop")))
    response = await provider(fake, http, sleeps).complete(hello(tools=[SEARCH]))
    [call] = response.tool_calls
    assert (call.name, call.arguments, call.raw_arguments) == ("memory.search", {}, '{"query": "ca')
    assert "not valid JSON" in (call.arguments_error or "")
    assert response.finish_reason == "tool_calls"


async def test_streaming_text_with_usage(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    fake.script(
        "POST",
        CHAT,
        SseReply(
            [
                openai_chunk({"role": "assistant", "content": ""}),
                openai_chunk({"content": "Hel"}),
                openai_chunk({"content": "lo"}) + openai_chunk({"content": " world"}),
                openai_chunk({}, finish_reason="stop"),
                openai_chunk(usage=(9, 4)),
                OPENAI_DONE,
            ]
        ),
    )
    events = await collect(provider(fake, http, sleeps), hello())
    assert events[:-1] == [TextDelta("Hel"), TextDelta("lo"), TextDelta(" world")]
    assert isinstance(events[-1], Completed)
    response = events[-1].response
    assert (response.content, response.finish_reason) == ("Hello world", "stop")
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 4)
    [sent] = fake.received(CHAT)
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.json()["stream"] is True
    assert sent.json()["stream_options"] == {"include_usage": True}


async def test_stream_chunks_split_mid_line_with_crlf(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    wire = b"".join(
        [
            sse(json.loads(openai_chunk({"content": "é✓"})[6:]), newline="\r\n"),
            b": comment\r\n",
            openai_chunk({}, finish_reason="length"),
            OPENAI_DONE,
        ]
    )
    pieces = [wire[i : i + 7] for i in range(0, len(wire), 7)]
    fake.script("POST", CHAT, SseReply(pieces))
    events = await collect(provider(fake, http, sleeps), hello())
    assert events[0] == TextDelta("é✓")
    assert isinstance(events[-1], Completed)
    assert events[-1].response.finish_reason == "length"
    assert events[-1].response.usage.estimated  # no usage chunk: estimated, and flagged so


async def test_two_parallel_streamed_tool_calls_are_reassembled(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    def call_delta(index: int, **fields: object) -> bytes:
        function = {k: v for k, v in fields.items() if k in ("name", "arguments")}
        entry: dict[str, object] = {"index": index, "function": function}
        if "id" in fields:
            entry.update(id=fields["id"], type="function")
        return openai_chunk({"tool_calls": [entry]})

    fake.script(
        "POST",
        CHAT,
        SseReply(
            [
                openai_chunk({"role": "assistant", "content": None}),
                call_delta(0, id="call_a", name="memory__search", arguments=""),
                call_delta(0, arguments='{"qu'),
                call_delta(1, id="call_b", name="web__fetch", arguments='{"url":'),
                call_delta(0, arguments='ery": "ca'),
                call_delta(1, arguments=' "https://x.test"}'),
                call_delta(0, arguments='ts"}'),
                openai_chunk({}, finish_reason="tool_calls"),
                openai_chunk(usage=(30, 21)),
                OPENAI_DONE,
            ]
        ),
    )
    fetch = ToolSpec("web.fetch", "Fetch a URL")
    events = await collect(provider(fake, http, sleeps), hello(tools=[SEARCH, fetch]))
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert started == [
        ToolCallStarted(0, "call_a", "memory.search"),
        ToolCallStarted(1, "call_b", "web.fetch"),
    ]
    pieces = [e.arguments_delta for e in events if isinstance(e, ToolCallDelta) and e.index == 0]
    assert pieces == ['{"qu', 'ery": "ca', 'ts"}']
    ready = [e for e in events if isinstance(e, ToolCallReady)]
    assert [(r.index, r.call.id, r.call.name, r.call.arguments) for r in ready] == [
        (0, "call_a", "memory.search", {"query": "cats"}),
        (1, "call_b", "web.fetch", {"url": "https://x.test"}),
    ]
    assert isinstance(events[-1], Completed)
    response = events[-1].response
    assert response.tool_calls == [r.call for r in ready]
    assert response.finish_reason == "tool_calls"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (30, 21)


async def test_streamed_malformed_arguments_do_not_crash(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    tool_call = {"index": 0, "id": "c1", "type": "function"}
    fake.script(
        "POST",
        CHAT,
        SseReply(
            [
                openai_chunk(
                    {"tool_calls": [{**tool_call, "function": {"name": "memory__search"}}]}
                ),
                openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "[1, 2"}}]}),
                openai_chunk({}, finish_reason="tool_calls"),
                OPENAI_DONE,
            ]
        ),
    )
    events = await collect(provider(fake, http, sleeps), hello(tools=[SEARCH]))
    [ready] = [e for e in events if isinstance(e, ToolCallReady)]
    assert ready.call.arguments == {}
    assert ready.call.raw_arguments == "[1, 2"
    assert ready.call.arguments_error


async def test_list_models(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    models = {
        "object": "list",
        "data": [
            {"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"},
            {"id": "llama3.2:latest", "object": "model", "created": 2, "owned_by": "library"},
        ],
    }
    fake.script("GET", "/v1/models", JsonReply(models))
    found = await provider(fake, http, sleeps).list_models()
    assert [(m.id, m.owned_by) for m in found] == [
        ("gpt-4o", "openai"),
        ("llama3.2:latest", "library"),
    ]
    assert fake.received("/v1/models")[0].headers["authorization"] == "Bearer sk-test"


async def test_streamed_answers_reuse_one_connection(
    fake: FakeServer, http: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    """The end of the body after `[DONE]` is read, so the connection goes back to the pool: a
    second streamed answer opens no new connection."""
    done = [openai_chunk({"content": "Hi"}), openai_chunk({}, finish_reason="stop"), OPENAI_DONE]
    fake.script("POST", CHAT, SseReply(done), SseReply(done))
    p = provider(fake, http, sleeps)
    for _ in range(2):
        events = await collect(p, hello())
        assert isinstance(events[-1], Completed)
    first, second = fake.received(CHAT)
    assert first.client is not None
    assert first.client == second.client
