"""The offline echo provider: deterministic replies, streaming, and its tool-call convention."""

from __future__ import annotations

import asyncio

import pytest

from sophon.llm import (
    ChatMessage,
    ChatRequest,
    Completed,
    EchoProvider,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
    ToolCallStarted,
)


def request(*messages: ChatMessage, max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest("echo", list(messages), max_tokens=max_tokens)


async def collect(provider: EchoProvider, req: ChatRequest) -> list[StreamEvent]:
    return [event async for event in provider.stream(req)]


async def test_echoes_the_last_user_message_and_says_what_it_is() -> None:
    req = request(
        ChatMessage.system("ignored"),
        ChatMessage.user("first"),
        ChatMessage.assistant("..."),
        ChatMessage.user("What is 2+2?"),
    )
    first = await EchoProvider().complete(req)
    again = await EchoProvider().complete(req)
    assert first == again
    assert first.content == "(offline echo model) You said: What is 2+2?"
    assert (first.finish_reason, first.model, first.tool_calls) == ("stop", "echo", [])
    assert first.usage.estimated
    assert first.usage.output_tokens == -(-len(first.content) // 4)
    assert first.usage.input_tokens == sum(
        -(-len(t) // 4) for t in ["ignored", "first", "...", "What is 2+2?"]
    )


async def test_stream_yields_the_same_reply_in_a_few_chunks() -> None:
    req = request(ChatMessage.user("a fairly long sentence to be cut into pieces"))
    events = await collect(EchoProvider(), req)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert 2 <= len(deltas) <= 4
    assert isinstance(events[-1], Completed)
    assert "".join(deltas) == events[-1].response.content
    assert events[-1].response == await EchoProvider().complete(req)


async def test_tool_command_produces_parallel_tool_calls() -> None:
    prompt = (
        'please\n/tool memory.search {"query": "cats"}\n/tool web.fetch {"url": "https://x.test"}'
    )
    history = [ChatMessage.assistant("", [ToolCall.from_raw("old", "a.b", "{}")])]
    req = request(
        ChatMessage.user("earlier"),
        *history,
        ChatMessage.tool("old", "ok"),
        ChatMessage.user(prompt),
    )
    response = await EchoProvider().complete(req)
    assert response.content == ""
    assert response.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("echo_call_2", "memory.search", {"query": "cats"}),
        ("echo_call_3", "web.fetch", {"url": "https://x.test"}),
    ]
    events = await collect(EchoProvider(), req)
    assert events[:3] == [
        ToolCallStarted(0, "echo_call_2", "memory.search"),
        ToolCallDelta(0, '{"query": "cats"}'),
        ToolCallReady(0, response.tool_calls[0]),
    ]
    assert isinstance(events[-1], Completed)


async def test_tool_command_with_broken_json_gives_an_arguments_error() -> None:
    response = await EchoProvider().complete(request(ChatMessage.user("/tool memory.search {oops")))
    [call] = response.tool_calls
    assert (call.arguments, call.raw_arguments) == ({}, "{oops")
    assert call.arguments_error
    no_args = await EchoProvider().complete(request(ChatMessage.user("/tool clock.now")))
    assert no_args.tool_calls == [ToolCall("echo_call_1", "clock.now", {}, "")]


async def test_after_tool_results_it_summarises_them() -> None:
    call = ToolCall.from_raw("echo_call_1", "memory.search", '{"query": "cats"}')
    req = request(
        ChatMessage.user('/tool memory.search {"query": "cats"}'),
        ChatMessage.assistant("", [call]),
        ChatMessage.tool("echo_call_1", "3 notes about cats" + "x" * 300),
        ChatMessage.tool("other", "denied", name="shell.exec", is_error=True),
    )
    response = await EchoProvider().complete(req)
    expected_preview = ("3 notes about cats" + "x" * 300)[:200]
    assert response.content == (
        f"(offline echo model) Tool results: memory.search: {expected_preview}; "
        "shell.exec (error): denied"
    )
    assert response.finish_reason == "stop"


async def test_max_tokens_cuts_the_reply() -> None:
    response = await EchoProvider().complete(request(ChatMessage.user("x" * 100), max_tokens=3))
    assert response.content == "(offline echo model) You said: x"[:12]
    assert response.finish_reason == "length"


async def test_no_user_message_and_list_models() -> None:
    response = await EchoProvider().complete(request())
    assert response.content.startswith("(offline echo model) Hello!")
    [model] = await EchoProvider().list_models()
    assert model.id == "echo"


async def test_stream_can_be_cancelled_between_chunks() -> None:
    seen: list[StreamEvent] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for event in EchoProvider().stream(request(ChatMessage.user("long text " * 20))):
            seen.append(event)
            first.set()
            await asyncio.Event().wait()  # a consumer stuck on something else

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(seen) == 1
