"""The provider-neutral chat model (messages, tools, responses, stream events) and the Provider
protocol every adapter implements."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]

# Normalised finish reasons; an adapter passes an unknown upstream value through unchanged.
FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_TOOL_CALLS = "tool_calls"
FINISH_CONTENT_FILTER = "content_filter"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model. `name` is the Sophon name (dotted, e.g. `memory.search`);
    adapters translate it to what the wire allows. `parameters` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    wire_forms: dict[tuple[str, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The adapters' JSON of this tool, by wire format and wire name (`llm.wireform`): a
    registered tool offers the same spec on every turn (`Tool.spec`)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for. `raw_arguments` is the JSON text exactly as received;
    `arguments` is its parsed object. When the text is not a JSON object, `arguments` is empty
    and `arguments_error` says why, so the loop can answer the model with an error result
    instead of crashing."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    arguments_error: str | None = None

    @classmethod
    def from_raw(cls, call_id: str, name: str, raw_arguments: str) -> ToolCall:
        arguments, error = parse_tool_arguments(raw_arguments)
        return cls(call_id, name, arguments, raw_arguments, error)

    def wire_arguments(self) -> str:
        """JSON text to send back in history: the original text when it was valid, else `{}`."""
        if self.arguments_error is None and self.raw_arguments.strip():
            return self.raw_arguments
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(slots=True)
class ChatMessage:
    """One turn. Assistant turns may carry `tool_calls`; a `tool` turn answers one call
    (`tool_call_id`), with `is_error` set when the tool failed. `name` is the tool's name on a
    tool turn, or a participant name on a user turn."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    wire_forms: dict[str, tuple[tuple[str, ...], str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The adapters' JSON of this message, by wire format (`llm.wireform`): a message is not
    changed once sent, so a long session's request encodes only its new messages."""

    @classmethod
    def system(cls, content: str) -> ChatMessage:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> ChatMessage:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: list[ToolCall] | None = None) -> ChatMessage:
        return cls("assistant", content, list(tool_calls or []))

    @classmethod
    def tool(
        cls, tool_call_id: str, content: str, *, name: str | None = None, is_error: bool = False
    ) -> ChatMessage:
        return cls("tool", content, tool_call_id=tool_call_id, name=name, is_error=is_error)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens billed for one call. Input includes cached prompt tokens. `estimated` is True when
    the upstream reported nothing and the count comes from `estimate_tokens`."""

    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.estimated or other.estimated,
        )


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    # OpenAI's `response_format` (e.g. a JSON schema the answer must follow); adapters whose
    # API has no such field ignore it, so callers still validate the answer
    response_format: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChatResponse:
    content: str
    tool_calls: list[ToolCall]
    usage: Usage
    finish_reason: str
    model: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    display_name: str | None = None
    owned_by: str | None = None


# Stream events, in the order a stream yields them: text deltas and tool-call pieces interleave
# as the model produces them; each tool call ends with ToolCallReady; Completed comes last, once.
# `index` numbers the tool calls of one response from 0 in order of appearance.


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    arguments_delta: str


@dataclass(frozen=True, slots=True)
class ToolCallReady:
    index: int
    call: ToolCall


@dataclass(frozen=True, slots=True)
class Completed:
    response: ChatResponse


StreamEvent = TextDelta | ToolCallStarted | ToolCallDelta | ToolCallReady | Completed


class Provider(Protocol):
    """What the agent runtime calls. Every method raises `ProviderError` subclasses only (plus
    `asyncio.CancelledError`). Adapters retry 429/5xx/connection failures a bounded number of
    times; failover between providers is the caller's job.

    `stream()` returns an async generator; close it (`contextlib.aclosing`) or cancel the task
    consuming it to drop the upstream connection early. Adapter timeouts bound each network
    step (connect, each read); a deadline for a whole answer is the caller's `asyncio.timeout`."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]: ...

    async def list_models(self) -> list[ModelInfo]: ...


def parse_tool_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Parses a tool call's JSON argument text; empty text means no arguments."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return {}, f"arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters per token) for when nobody reports one."""
    return math.ceil(len(text) / 4) if text else 0


def estimate_request_tokens(request: ChatRequest) -> int:
    parts = [message.content for message in request.messages]
    parts += [call.raw_arguments for message in request.messages for call in message.tool_calls]
    parts += [
        f"{tool.name} {tool.description} {json.dumps(tool.parameters)}" for tool in request.tools
    ]
    return sum(estimate_tokens(part) for part in parts)
