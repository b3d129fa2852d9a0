"""What the HTTP model adapters share: the name, the guarded transport, the non-streaming call
and the streaming loop. A wire format brings its request body, its reply parser and a stream
assembler that turns its events into stream events."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, Protocol

import httpx

from sophon.llm.base import ChatRequest, ChatResponse, StreamEvent
from sophon.llm.sse import ServerSentEvent
from sophon.llm.toolnames import ToolNameMap
from sophon.llm.transport import ProviderHttp, RetryPolicy, Sleep, parse_error, read_rest
from sophon.llm.wireform import encode_body

SHAPE_ERRORS = (KeyError, IndexError, TypeError, AttributeError, ValueError)
"""What reading a payload of an unexpected shape raises (mapped to a protocol error)."""


class StreamAssembler(Protocol):
    """Builds the answer from a wire format's stream, one server-sent event at a time."""

    stopped: bool
    """The stream said it is complete: nothing after this is read."""

    def skip(self, sse: ServerSentEvent) -> bool:
        """True for an event that carries no JSON to feed (a keep-alive, an end marker)."""
        ...

    def feed(self, event: str, data: Any) -> list[StreamEvent]:
        """The stream events one decoded event makes; raises on an in-stream error."""
        ...

    def finish(self) -> list[StreamEvent]:
        """The last events, `Completed` at the end; raises if the stream was cut short."""
        ...


class HttpAdapter(ABC):
    """A provider reached over HTTP: `complete` posts the body and parses the reply, `stream`
    feeds the server-sent events to an assembler. Payloads of an unexpected shape are protocol
    errors naming the provider."""

    chat_path: str
    """The chat endpoint, below `base_url`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        name: str,
        base_url: str,
        headers: dict[str, str],
        timeout: httpx.Timeout | float | None,
        retry: RetryPolicy | None,
        sleep: Sleep,
        error_message: Callable[[Any], str | None],
    ) -> None:
        self._name = name
        self._base_url = base_url
        self._headers: Mapping[str, str] = headers
        self._http = ProviderHttp(
            client,
            provider=name,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            error_message=error_message,
        )

    @property
    def name(self) -> str:
        return self._name

    def _url(self, path: str) -> str:
        return self._base_url + path

    @abstractmethod
    def _body(self, request: ChatRequest, names: ToolNameMap, *, stream: bool) -> dict[str, Any]:
        """The wire request; encoding its messages (`wireform.message_texts`) enters the names
        of the history's tool calls into `names`, which holds the offered tools' already."""

    @abstractmethod
    def _parse(self, payload: Any, names: ToolNameMap, request: ChatRequest) -> ChatResponse:
        """The non-streaming reply; may raise one of SHAPE_ERRORS."""

    @abstractmethod
    def _assembler(self, names: ToolNameMap, request: ChatRequest) -> StreamAssembler:
        """A fresh assembler for one streamed reply."""

    async def complete(self, request: ChatRequest) -> ChatResponse:
        names = ToolNameMap(tool.name for tool in request.tools)
        body = encode_body(self._body(request, names, stream=False))
        payload = await self._http.post_json(self._url(self.chat_path), self._headers, body)
        try:
            return self._parse(payload, names, request)
        except SHAPE_ERRORS as exc:
            raise parse_error(self._name, payload) from exc

    async def stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        names = ToolNameMap(tool.name for tool in request.tools)
        body = encode_body(self._body(request, names, stream=True))
        assembler = self._assembler(names, request)
        url = self._url(self.chat_path)
        async with self._http.stream_events(url, self._headers, body) as sse_events:
            async for sse in sse_events:
                if not assembler.skip(sse):
                    for event in self._feed(assembler, sse):
                        yield event
                if assembler.stopped:
                    await read_rest(sse_events)
                    break
        for event in assembler.finish():
            yield event

    def _feed(self, assembler: StreamAssembler, sse: ServerSentEvent) -> list[StreamEvent]:
        try:
            data = json.loads(sse.data)
        except ValueError as exc:
            raise parse_error(self._name, sse.data.strip()[:200]) from exc
        try:
            return assembler.feed(sse.event, data)
        except SHAPE_ERRORS as exc:
            raise parse_error(self._name, data) from exc
