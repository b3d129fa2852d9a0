"""The built-in offline `echo` provider: no model, no network, deterministic answers, so every flow
can be tried (and tested) before a real model is configured.

Convention, looked at in the last turns of the conversation:

- The last message is a user message with lines `/tool <name> <json arguments>`: the reply is
  one tool call per such line, in order, with ids `echo_call_<n>` (n counts the tool calls
  already in the conversation, from 1) and finish reason `tool_calls`. Other lines of that
  message are ignored. Arguments that are not a JSON object yield a call with
  `arguments_error` set, just like a real model emitting broken JSON. The tool does not have to
  be among the offered tools (so a loop can be tested against unknown tool names).
- The conversation ends with tool results: the reply summarises them,
  `(offline echo model) Tool results: <name>: <first 200 characters>; ...`.
- Otherwise: `(offline echo model) You said: <last user message>`.

Usage is estimated (about four characters per token). With `max_tokens` set, a longer reply is
cut to `4 * max_tokens` characters and finishes with `length`. Streaming yields the same reply
as `complete` in a few text chunks, then the tool-call events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from sophon.llm.base import (
    FINISH_LENGTH,
    FINISH_STOP,
    FINISH_TOOL_CALLS,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Completed,
    ModelInfo,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallReady,
    ToolCallStarted,
    Usage,
    estimate_request_tokens,
    estimate_tokens,
)

ECHO_MODEL = "echo"
PREFIX = "(offline echo model)"
TOOL_COMMAND = "/tool "
_STREAM_CHUNKS = 4
_RESULT_PREVIEW = 200


class EchoProvider:
    """Answers without a model; see the module docstring for the exact behaviour."""

    def __init__(self, name: str = "echo") -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return _reply(request)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        response = _reply(request)
        for piece in _chunks(response.content, _STREAM_CHUNKS):
            await asyncio.sleep(0)  # a real suspension point, so cancellation lands mid-stream
            yield TextDelta(piece)
        for index, call in enumerate(response.tool_calls):
            await asyncio.sleep(0)
            yield ToolCallStarted(index, call.id, call.name)
            if call.raw_arguments:
                yield ToolCallDelta(index, call.raw_arguments)
            yield ToolCallReady(index, call)
        yield Completed(response)

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(ECHO_MODEL, "Offline echo model (no AI)", "sophon")]


def _reply(request: ChatRequest) -> ChatResponse:
    messages = [m for m in request.messages if m.role != "system"]
    calls: list[ToolCall] = []
    if messages and messages[-1].role == "tool":
        content = _summarise_results(messages)
    elif messages and messages[-1].role == "user":
        calls = _tool_commands(messages[-1].content, _calls_so_far(messages))
        content = "" if calls else f"{PREFIX} You said: {messages[-1].content}"
    else:
        content = (
            f"{PREFIX} Hello! I am the offline echo model; add a model provider for real answers."
        )
    finish = FINISH_TOOL_CALLS if calls else FINISH_STOP
    if request.max_tokens is not None and estimate_tokens(content) > request.max_tokens:
        content, finish = content[: 4 * request.max_tokens], FINISH_LENGTH
    output = estimate_tokens(content) + sum(estimate_tokens(c.raw_arguments) for c in calls)
    return ChatResponse(
        content=content,
        tool_calls=calls,
        usage=Usage(estimate_request_tokens(request), output, estimated=True),
        finish_reason=finish,
        model=request.model or ECHO_MODEL,
    )


def _calls_so_far(messages: list[ChatMessage]) -> int:
    return sum(len(message.tool_calls) for message in messages)


def _tool_commands(text: str, already: int) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith(TOOL_COMMAND):
            continue
        name, _, raw_arguments = line[len(TOOL_COMMAND) :].strip().partition(" ")
        if name:
            call_id = f"echo_call_{already + len(calls) + 1}"
            calls.append(ToolCall.from_raw(call_id, name, raw_arguments.strip()))
    return calls


def _summarise_results(messages: list[ChatMessage]) -> str:
    results: list[ChatMessage] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.append(message)
    results.reverse()
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    parts = []
    for result in results:
        name = result.name or names.get(result.tool_call_id or "", "tool")
        status = " (error)" if result.is_error else ""
        parts.append(f"{name}{status}: {result.content[:_RESULT_PREVIEW]}")
    return f"{PREFIX} Tool results: " + "; ".join(parts)


def _chunks(text: str, count: int) -> list[str]:
    if not text:
        return []
    size = -(-len(text) // count)
    return [text[start : start + size] for start in range(0, len(text), size)]
