"""Adapter for the OpenAI-compatible Chat Completions wire format (OpenAI, Ollama, LM Studio, vLLM,
llama.cpp server, OpenRouter, Groq...), selected by `baseUrl`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from sophon.llm.adapter import SHAPE_ERRORS, HttpAdapter
from sophon.llm.base import (
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
    estimate_request_tokens,
    estimate_tokens,
)
from sophon.llm.errors import (
    ProviderError,
    ProviderUnavailable,
    error_for_status,
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
from sophon.platform.ids import new_id

OPENAI_BASE_URL = "https://api.openai.com/v1"
WIRE_FORMAT = "openai"


def openai_error_message(payload: Any) -> str | None:
    """`{"error": {"message": ...}}` (OpenAI, vLLM, llama.cpp) or `{"error": "..."}` (Ollama)."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    message = payload.get("message") or payload.get("detail")
    return message if isinstance(message, str) else None


class OpenAIProvider(HttpAdapter):
    """Chat Completions over an injected client.

    `base_url` includes the version path (`https://api.openai.com/v1`,
    `http://127.0.0.1:11434/v1` for Ollama). `api_key` is optional (local servers). Newer OpenAI
    models want `max_tokens_field="max_completion_tokens"`; servers that reject
    `stream_options` take `stream_usage=False` (usage is then estimated)."""

    chat_path = "/chat/completions"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        name: str = "openai",
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        stream_usage: bool = True,
        max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    ) -> None:
        wire_headers = dict(headers or {})
        if api_key:
            wire_headers["authorization"] = f"Bearer {api_key}"
        super().__init__(
            client,
            name=name,
            base_url=base_url.rstrip("/"),
            headers=wire_headers,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            error_message=openai_error_message,
        )
        self._stream_usage = stream_usage
        self._max_tokens_field = max_tokens_field

    def _parse(self, payload: Any, names: ToolNameMap, request: ChatRequest) -> ChatResponse:
        return _parse_completion(payload, names, request)

    def _assembler(self, names: ToolNameMap, request: ChatRequest) -> _StreamAssembler:
        return _StreamAssembler(self._name, names, request)

    async def list_models(self) -> list[ModelInfo]:
        """`GET {base_url}/models`."""
        payload = await self._http.get_json(self._url("/models"), self._headers)
        try:
            return [
                ModelInfo(
                    id=str(item["id"]),
                    display_name=item.get("name") if isinstance(item.get("name"), str) else None,
                    owned_by=item.get("owned_by")
                    if isinstance(item.get("owned_by"), str)
                    else None,
                )
                for item in payload["data"]
            ]
        except SHAPE_ERRORS as exc:
            raise parse_error(self._name, payload) from exc

    def _body(self, request: ChatRequest, names: ToolNameMap, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": JsonText(_messages_json(request.messages, names)),
            "stream": stream,
        }
        if stream and self._stream_usage:
            body["stream_options"] = {"include_usage": True}
        if request.tools:
            body["tools"] = tools_json(request.tools, WIRE_FORMAT, names, _tool_json)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[self._max_tokens_field] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if request.response_format is not None:
            body["response_format"] = request.response_format
        return body


def _tool_json(tool: ToolSpec, wire_name: str) -> str:
    function = {"name": wire_name, "description": tool.description, "parameters": tool.parameters}
    return json.dumps({"type": "function", "function": function})


def _messages_json(messages: list[ChatMessage], names: ToolNameMap) -> str:
    return "[" + ", ".join(message_texts(messages, WIRE_FORMAT, names, _message_json)) + "]"


def _message_json(message: ChatMessage, names: ToolNameMap) -> str:
    return json.dumps(_wire_message(message, names))


def _wire_message(message: ChatMessage, names: ToolNameMap) -> dict[str, Any]:
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message.content,
        }
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": names.encode(call.name), "arguments": call.wire_arguments()},
            }
            for call in message.tool_calls
        ]
    if message.name and message.role in ("user", "system"):
        wire["name"] = message.name
    return wire


def _arguments_text(value: Any) -> str:
    """Arguments are a JSON string on the wire; a few servers send the object itself."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _usage(payload: Any) -> Usage | None:
    if not isinstance(payload, dict):
        return None
    return Usage(int(payload.get("prompt_tokens") or 0), int(payload.get("completion_tokens") or 0))


def _finish(reason: Any, has_tool_calls: bool) -> str:
    finish = str(reason) if reason else FINISH_STOP
    # Ollama and others say "stop" even when the turn ends in tool calls.
    return FINISH_TOOL_CALLS if has_tool_calls and finish == FINISH_STOP else finish


def _parse_completion(payload: Any, names: ToolNameMap, request: ChatRequest) -> ChatResponse:
    choice = payload["choices"][0]
    message = choice["message"]
    calls = [
        ToolCall.from_raw(
            str(raw.get("id") or new_id("call")),
            names.decode(str(raw["function"]["name"])),
            _arguments_text(raw["function"].get("arguments")),
        )
        for raw in message.get("tool_calls") or []
    ]
    content = message.get("content") or ""
    usage = _usage(payload.get("usage")) or Usage(
        estimate_request_tokens(request), estimate_tokens(content), estimated=True
    )
    return ChatResponse(
        content=str(content),
        tool_calls=calls,
        usage=usage,
        finish_reason=_finish(choice.get("finish_reason"), bool(calls)),
        model=str(payload.get("model") or request.model),
    )


@dataclass(slots=True)
class _PartialCall:
    ordinal: int
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    started: bool = False


class _StreamAssembler:
    """Turns `chat.completion.chunk` objects into stream events. Tool calls arrive by `index`:
    `id` and `name` in the first delta of each, `arguments` in pieces over many chunks, several
    calls interleaved."""

    def __init__(self, provider: str, names: ToolNameMap, request: ChatRequest) -> None:
        self.provider = provider
        self.names = names
        self.request = request
        self.text: list[str] = []
        self.calls: dict[int, _PartialCall] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model = request.model
        self.stopped = False

    def skip(self, sse: ServerSentEvent) -> bool:
        if sse.data.strip() == "[DONE]":
            self.stopped = True
            return True
        return False

    def feed(self, event: str, chunk: Any) -> list[StreamEvent]:
        if chunk.get("error") is not None:
            raise self._stream_error(chunk)
        self.model = str(chunk.get("model") or self.model)
        self.usage = _usage(chunk.get("usage")) or self.usage
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                self.text.append(str(text))
                events.append(TextDelta(str(text)))
            for position, raw in enumerate(delta.get("tool_calls") or []):
                events += self._tool_delta(raw, position)
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
        return events

    def _tool_delta(self, raw: Any, position: int) -> list[StreamEvent]:
        index = raw.get("index", position)
        call = self.calls.get(index)
        if call is None:
            call = self.calls[index] = _PartialCall(ordinal=len(self.calls))
        function = raw.get("function") or {}
        call.id = call.id or str(raw.get("id") or "")
        call.name = call.name or str(function.get("name") or "")
        events: list[StreamEvent] = []
        if not call.started and call.name:
            call.started = True
            call.id = call.id or new_id("call")
            name = self.names.decode(call.name)
            events.append(ToolCallStarted(call.ordinal, call.id, name))
        piece = _arguments_text(function.get("arguments"))
        if piece:
            call.arguments.append(piece)
            events.append(ToolCallDelta(call.ordinal, piece))
        return events

    def finish(self) -> list[StreamEvent]:
        if self.finish_reason is None and not self.stopped:
            raise ProviderUnavailable(
                f"{self.provider}: the stream ended before the model finished",
                provider=self.provider,
            )
        events: list[StreamEvent] = []
        calls: list[ToolCall] = []
        for partial in sorted(self.calls.values(), key=lambda item: item.ordinal):
            call = ToolCall.from_raw(
                partial.id or new_id("call"),
                self.names.decode(partial.name),
                "".join(partial.arguments),
            )
            calls.append(call)
            events.append(ToolCallReady(partial.ordinal, call))
        content = "".join(self.text)
        usage = self.usage or Usage(
            estimate_request_tokens(self.request),
            estimate_tokens(content) + sum(estimate_tokens(c.raw_arguments) for c in calls),
            estimated=True,
        )
        response = ChatResponse(
            content=content,
            tool_calls=calls,
            usage=usage,
            finish_reason=_finish(self.finish_reason, bool(calls)),
            model=self.model,
        )
        events.append(Completed(response))
        return events

    def _stream_error(self, chunk: Any) -> ProviderError:
        error = chunk["error"]
        message = openai_error_message(chunk) or "error event in stream"
        status = error.get("code") if isinstance(error, dict) else None
        if isinstance(status, int) and 400 <= status < 600:
            return error_for_status(status, message, provider=self.provider)
        return ProviderUnavailable(f"{self.provider}: {message}", provider=self.provider)
