"""Adapter for the Anthropic Messages API (`POST /v1/messages`, `GET /v1/models`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from sophon.llm.adapter import SHAPE_ERRORS, HttpAdapter
from sophon.llm.base import (
    FINISH_CONTENT_FILTER,
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
    ToolSpec,
    Usage,
)
from sophon.llm.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from sophon.llm.sse import ServerSentEvent
from sophon.llm.toolnames import ToolNameMap
from sophon.llm.transport import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    Sleep,
    parse_error,
)
from sophon.llm.wireform import JsonText, message_texts, tools_json

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
WIRE_FORMAT = "anthropic"
DEFAULT_MAX_TOKENS = 4096
_MAX_MODEL_PAGES = 10
_STOP_REASONS = {
    "end_turn": FINISH_STOP,
    "stop_sequence": FINISH_STOP,
    "max_tokens": FINISH_LENGTH,
    "tool_use": FINISH_TOOL_CALLS,
    "refusal": FINISH_CONTENT_FILTER,
}
# Error `type`s of an in-stream `error` event, with the HTTP status the same error has.
_STREAM_ERRORS: dict[str, tuple[type[ProviderError], int]] = {
    "overloaded_error": (ProviderUnavailable, 529),
    "api_error": (ProviderUnavailable, 500),
    "rate_limit_error": (ProviderRateLimited, 429),
    "authentication_error": (ProviderAuthError, 401),
    "permission_error": (ProviderAuthError, 403),
    "invalid_request_error": (ProviderBadRequest, 400),
    "not_found_error": (ProviderBadRequest, 404),
    "request_too_large": (ProviderBadRequest, 413),
}


def anthropic_error_message(payload: Any) -> str | None:
    """`{"type": "error", "error": {"type": ..., "message": ...}}`."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
        message = error.get("message")
        kind = error.get("type")
        if isinstance(message, str):
            return f"{kind}: {message}" if isinstance(kind, str) else message
    return None


class AnthropicProvider(HttpAdapter):
    """Messages API over an injected client. `base_url` is the host without `/v1`; `max_tokens`
    is required by the API, so `default_max_tokens` fills in when the request has none."""

    chat_path = "/v1/messages"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str | None,
        base_url: str = ANTHROPIC_BASE_URL,
        name: str = "anthropic",
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        wire_headers = {"anthropic-version": ANTHROPIC_VERSION, **(headers or {})}
        if api_key:
            wire_headers["x-api-key"] = api_key
        super().__init__(
            client,
            name=name,
            base_url=base_url.rstrip("/").removesuffix("/v1"),
            headers=wire_headers,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            error_message=anthropic_error_message,
        )
        self._default_max_tokens = default_max_tokens

    def _parse(self, payload: Any, names: ToolNameMap, request: ChatRequest) -> ChatResponse:
        return _parse_message(payload, names, request)

    def _assembler(self, names: ToolNameMap, request: ChatRequest) -> _StreamAssembler:
        return _StreamAssembler(self._name, names, request.model)

    async def list_models(self) -> list[ModelInfo]:
        """`GET /v1/models`, following `has_more`/`last_id` for a few pages."""
        models: list[ModelInfo] = []
        params = {"limit": "1000"}
        for _ in range(_MAX_MODEL_PAGES):
            payload = await self._http.get_json(self._url("/v1/models"), self._headers, params)
            try:
                models += [
                    ModelInfo(id=str(item["id"]), display_name=item.get("display_name"))
                    for item in payload["data"]
                ]
                if not payload.get("has_more") or not payload.get("last_id"):
                    break
                params = {"limit": "1000", "after_id": str(payload["last_id"])}
            except SHAPE_ERRORS as exc:
                raise parse_error(self._name, payload) from exc
        return models

    def _body(self, request: ChatRequest, names: ToolNameMap, *, stream: bool) -> dict[str, Any]:
        system = [m.content for m in request.messages if m.role == "system" and m.content]
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or self._default_max_tokens,
            "messages": JsonText(_messages_json(request.messages, names)),
        }
        if system:
            body["system"] = "\n\n".join(system)
        if request.tools:
            body["tools"] = tools_json(request.tools, WIRE_FORMAT, names, _tool_json)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if stream:
            body["stream"] = True
        return body


def _tool_json(tool: ToolSpec, wire_name: str) -> str:
    return json.dumps(
        {"name": wire_name, "description": tool.description, "input_schema": tool.parameters}
    )


def _messages_json(messages: list[ChatMessage], names: ToolNameMap) -> str:
    """Tool results become `tool_result` blocks in a user turn; consecutive turns of one role
    merge, since the API wants user and assistant to alternate; empty text blocks are dropped
    (a system message has none: it goes to `system`)."""
    turns: list[tuple[str, list[str]]] = []
    texts = message_texts(messages, WIRE_FORMAT, names, _blocks_json)
    for message, blocks in zip(messages, texts, strict=True):
        if not blocks:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1][0] == role:
            turns[-1][1].append(blocks)
        else:
            turns.append((role, [blocks]))
    wire = [f'{{"role": "{role}", "content": [{", ".join(blocks)}]}}' for role, blocks in turns]
    return "[" + ", ".join(wire) + "]"


def _blocks_json(message: ChatMessage, names: ToolNameMap) -> str:
    """The message's content blocks as JSON list items (without the brackets)."""
    return json.dumps(_blocks(message, names))[1:-1]


def _blocks(message: ChatMessage, names: ToolNameMap) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id or "",
            "content": message.content,
        }
        if message.is_error:
            result["is_error"] = True
        return [result]
    if message.role not in ("user", "assistant"):
        return []
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks += [
        {"type": "tool_use", "id": c.id, "name": names.encode(c.name), "input": c.arguments}
        for c in message.tool_calls
    ]
    return blocks


def _usage(payload: Any) -> Usage:
    """Input counts cached prompt tokens too, like OpenAI's `prompt_tokens` does."""
    if not isinstance(payload, dict):
        return Usage()
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return Usage(
        sum(int(payload.get(key) or 0) for key in keys), int(payload.get("output_tokens") or 0)
    )


def _finish(reason: Any) -> str:
    return _STOP_REASONS.get(str(reason), str(reason)) if reason else FINISH_STOP


def _parse_message(payload: Any, names: ToolNameMap, request: ChatRequest) -> ChatResponse:
    text: list[str] = []
    calls: list[ToolCall] = []
    for block in payload["content"]:
        if block["type"] == "text":
            text.append(str(block["text"]))
        elif block["type"] == "tool_use":
            raw = json.dumps(block.get("input") or {})
            calls.append(ToolCall.from_raw(str(block["id"]), names.decode(block["name"]), raw))
    return ChatResponse(
        content="".join(text),
        tool_calls=calls,
        usage=_usage(payload.get("usage")),
        finish_reason=_finish(payload.get("stop_reason")),
        model=str(payload.get("model") or request.model),
    )


@dataclass(slots=True)
class _ToolBlock:
    ordinal: int
    id: str
    name: str
    json_parts: list[str] = field(default_factory=list)


class _StreamAssembler:
    """Turns Messages stream events into stream events. Content blocks are numbered by
    `index` across text and tool_use blocks; tool calls get their own 0-based ordinal."""

    def __init__(self, provider: str, names: ToolNameMap, model: str) -> None:
        self.provider = provider
        self.names = names
        self.model = model
        self.text: list[str] = []
        self.tools: dict[int, _ToolBlock] = {}
        self.calls: list[ToolCall] = []
        self.input_tokens = 0
        self.output_tokens = 0
        self.stop_reason: Any = None
        self.stopped = False

    def skip(self, sse: ServerSentEvent) -> bool:
        return sse.event == "ping"

    def feed(self, event: str, data: Any) -> list[StreamEvent]:
        kind = str(data.get("type") or event)
        if kind == "message_start":
            message = data["message"]
            self.model = str(message.get("model") or self.model)
            usage = _usage(message.get("usage"))
            self.input_tokens, self.output_tokens = usage.input_tokens, usage.output_tokens
        elif kind == "content_block_start":
            return self._block_start(int(data["index"]), data["content_block"])
        elif kind == "content_block_delta":
            return self._block_delta(int(data["index"]), data["delta"])
        elif kind == "content_block_stop":
            return self._block_stop(int(data["index"]))
        elif kind == "message_delta":
            self.stop_reason = (data.get("delta") or {}).get("stop_reason") or self.stop_reason
            totals = data.get("usage") or {}
            if totals.get("input_tokens") is not None:
                self.input_tokens = _usage(totals).input_tokens
            if totals.get("output_tokens") is not None:
                self.output_tokens = int(totals["output_tokens"])  # cumulative, not a delta
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise self._stream_error(data)
        return []

    def _block_start(self, index: int, block: Any) -> list[StreamEvent]:
        if block["type"] == "text":
            if block.get("text"):
                self.text.append(str(block["text"]))
                return [TextDelta(str(block["text"]))]
        elif block["type"] == "tool_use":
            tool = _ToolBlock(len(self.tools), str(block["id"]), self.names.decode(block["name"]))
            self.tools[index] = tool
            return [ToolCallStarted(tool.ordinal, tool.id, tool.name)]
        return []

    def _block_delta(self, index: int, delta: Any) -> list[StreamEvent]:
        if delta["type"] == "text_delta" and delta["text"]:
            self.text.append(str(delta["text"]))
            return [TextDelta(str(delta["text"]))]
        if delta["type"] == "input_json_delta" and index in self.tools:
            piece = str(delta["partial_json"])
            if piece:
                self.tools[index].json_parts.append(piece)
                return [ToolCallDelta(self.tools[index].ordinal, piece)]
        return []  # thinking, signature and future delta types are not part of the answer

    def _block_stop(self, index: int) -> list[StreamEvent]:
        tool = self.tools.get(index)
        if tool is None:
            return []
        call = ToolCall.from_raw(tool.id, tool.name, "".join(tool.json_parts))
        self.calls.append(call)
        return [ToolCallReady(tool.ordinal, call)]

    def finish(self) -> list[StreamEvent]:
        if not self.stopped and self.stop_reason is None:
            raise ProviderUnavailable(
                f"{self.provider}: the stream ended before the model finished",
                provider=self.provider,
            )
        response = ChatResponse(
            content="".join(self.text),
            tool_calls=list(self.calls),
            usage=Usage(self.input_tokens, self.output_tokens),
            finish_reason=_finish(self.stop_reason),
            model=self.model,
        )
        return [Completed(response)]

    def _stream_error(self, data: Any) -> ProviderError:
        error = data.get("error") or {}
        cls, status = _STREAM_ERRORS.get(str(error.get("type")), (ProviderUnavailable, 500))
        message = anthropic_error_message(data) or "error event in stream"
        return cls(f"{self.provider}: {message}", provider=self.provider, status=status)
