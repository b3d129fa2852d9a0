"""A loopback HTTP server (raw ASGI under uvicorn) that plays scripted replies in the providers'
real wire formats, and builders for those payloads."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import uvicorn

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int] | None = None  # the connection's address: reused or new

    def json(self) -> Any:
        return json.loads(self.body)


class Reply(Protocol):
    async def play(self, receive: Receive, send: Send) -> None: ...


def _headers(items: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in items.items()]


@dataclass
class JsonReply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    async def play(self, receive: Receive, send: Send) -> None:
        raw = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        headers = {"content-type": "application/json", **self.headers}
        await send(
            {"type": "http.response.start", "status": self.status, "headers": _headers(headers)}
        )
        await send({"type": "http.response.body", "body": raw, "more_body": False})


class ServerAbort(Exception):
    """Raised inside the app to make uvicorn drop the connection mid-body."""


@dataclass
class SseReply:
    """Writes `chunks` as separate body pieces. `hold_open` keeps the response open after them
    until the client goes away (then `disconnected` is set); `abort` drops the connection.
    Played on the server's thread, hence a threading.Event."""

    chunks: list[bytes]
    hold_open: bool = False
    abort: bool = False
    disconnected: threading.Event = field(default_factory=threading.Event)

    async def play(self, receive: Receive, send: Send) -> None:
        headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        await send({"type": "http.response.start", "status": 200, "headers": _headers(headers)})
        for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if self.abort:
            raise ServerAbort
        if self.hold_open:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass
class HeldReply:
    """Plays `reply` (default: 200 `{"ok": true}`) only once the test sets `release`: a server
    that hangs for as long as the test wants, without sleeping. `arrived` is set, and `waiting`
    counted, when a request is in (scripted twice, it holds two). threading.Events: the server
    runs on a thread of its own; a hold the test never releases ends after a minute."""

    reply: Reply = field(default_factory=lambda: JsonReply({"ok": True}))
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0

    async def play(self, receive: Receive, send: Send) -> None:
        self.waiting += 1
        self.arrived.set()
        await asyncio.to_thread(self.release.wait, 60)
        await self.reply.play(receive, send)


FAKE_MODELS = ("fake-chat-large", "fake-chat-small")


def models_list(models: list[str], *, anthropic: bool) -> dict[str, Any]:
    """`GET /v1/models` as the vendor answers it: OpenAI's `object: list`, or Anthropic's page."""
    if anthropic:
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-01-01T00:00:00Z",
            }
            for m in models
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": models[0] if models else None,
            "last_id": models[-1] if models else None,
        }
    data = [
        {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "fake"} for m in models
    ]
    return {"object": "list", "data": data}


class FakeServer:
    """One uvicorn server on a free 127.0.0.1 port, on a thread of its own, shared by the tests
    (`reset` between them). Replies are queued per (method, path) and used once each, in order.
    An unscripted `GET /v1/models` lists `models` in the wire format of whoever asks (Anthropic's
    when the request carries `anthropic-version`, else OpenAI's); any other unscripted request
    gets a 404 in OpenAI's error shape."""

    def __init__(self) -> None:
        self.models: list[str] = list(FAKE_MODELS)
        self._lock = threading.Lock()
        self._replies: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._requests: list[Recorded] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)  # connections wait in the backlog until uvicorn accepts them
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = quiet_server(self)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(10)
        self._sock.close()

    def reset(self) -> None:
        with self._lock:
            self.models = list(FAKE_MODELS)
            self._replies.clear()
            self._requests.clear()

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[(method, path)].extend(replies)

    def received(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self._requests if r.path == path]

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        recorded = Recorded(
            scope["method"],
            scope["path"],
            scope["query_string"].decode(),
            headers,
            body,
            tuple(scope["client"]) if scope.get("client") else None,
        )
        with self._lock:
            self._requests.append(recorded)
            queue = self._replies.get((scope["method"], scope["path"]))
            reply: Reply
            if queue:
                reply = queue.popleft()
            elif (scope["method"], scope["path"]) == ("GET", "/v1/models"):
                anthropic = "anthropic-version" in headers
                reply = JsonReply(models_list(self.models, anthropic=anthropic))
            else:
                reply = JsonReply({"error": {"message": "not scripted", "type": "not_found"}}, 404)
        await reply.play(receive, send)


class _QuietServer(uvicorn.Server):
    """Leaves the process's signal handlers alone (it runs off the main thread anyway)."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def quiet_server(app: Any, **options: Any) -> uvicorn.Server:
    """A silent HTTP/1.1 uvicorn server for `app`, to run on a thread of its own."""
    config = uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="off",
        ws="none",
        http="h11",
        log_config=None,
        log_level="critical",
        access_log=False,
        **options,
    )
    return _QuietServer(config)


class SleepRecorder:
    """Stands in for `asyncio.sleep` in the adapters: records delays, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def refused_url() -> str:
    """A loopback URL nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def sse(data: Any, event: str | None = None, newline: str = "\n") -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    lines = ([f"event: {event}"] if event else []) + [f"data: {text}", "", ""]
    return newline.join(lines).encode()


OPENAI_DONE = b"data: [DONE]\n\n"


def openai_completion(
    content: str | None = "Hello!",
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    usage: tuple[int, int] | None = (12, 3),
    model: str = "gpt-test-2024",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    payload: dict[str, Any] = {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "system_fingerprint": "fp_test",
    }
    if usage:
        payload["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    return payload


def openai_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def openai_chunk(
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: tuple[int, int] | None = None,
    model: str = "gpt-test-2024",
) -> bytes:
    """One `chat.completion.chunk` as an SSE event; with `usage` it is the final usage-only
    chunk that `stream_options.include_usage` produces (empty `choices`)."""
    payload: dict[str, Any] = {
        "id": "chatcmpl-abc123",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_test",
        "choices": [],
    }
    if usage is not None:
        payload["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    else:
        payload["choices"] = [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
        ]
        payload["usage"] = None
    return sse(payload)


def openai_error(
    message: str, kind: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_message(
    content: list[dict[str, Any]],
    stop_reason: str = "end_turn",
    usage: tuple[int, int] = (20, 7),
    model: str = "claude-test-4",
) -> dict[str, Any]:
    return {
        "id": "msg_01Test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def anthropic_event(kind: str, **fields: Any) -> bytes:
    return sse({"type": kind, **fields}, event=kind)


def anthropic_error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


T = TypeVar("T")
U = TypeVar("U")


async def while_held(
    held: HeldReply,
    slow: Coroutine[Any, Any, T],
    meanwhile: Callable[[], Coroutine[Any, Any, U]],
    limit: float = 10.0,
) -> tuple[T, U]:
    """Runs `slow` until its request hangs in `held`, then `meanwhile`, and only then lets the
    provider answer. Fails if `meanwhile` cannot finish within `limit` seconds while the provider
    is held (e.g. a write waiting for a lock `slow` keeps); the provider is released either way."""
    slow_task = asyncio.ensure_future(slow)
    tasks: list[asyncio.Future[Any]] = [slow_task]
    try:
        arrived = await asyncio.to_thread(held.arrived.wait, limit)
        assert arrived, "the request never reached the provider"
        other = asyncio.ensure_future(meanwhile())
        tasks.append(other)
        done, _ = await asyncio.wait(tasks, timeout=limit)
        assert other in done, "blocked while the provider was being asked"
        assert slow_task not in done, "the slow request did not wait for the provider"
    finally:
        held.release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return slow_task.result(), other.result()
