"""A loopback OpenAI-compatible model server that holds its answers until the test releases them,
so turns are in flight when a Gateway is killed. Every other path is held until the client goes
away (an upstream that never answers, for tools)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tests.llm.fakes import (
    OPENAI_DONE,
    openai_chunk,
    openai_completion,
    quiet_server,
)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

COMPLETIONS = "/v1/chat/completions"
MODEL = "slow-1"


def answer_to(question: str) -> str:
    """What the model answers to a conversation whose last user message is `question`."""
    return f"Answer to: {question}"


@dataclass(frozen=True)
class Received:
    path: str
    body: bytes

    def last_user_message(self) -> str:
        messages = json.loads(self.body)["messages"]
        return str(next(m["content"] for m in reversed(messages) if m["role"] == "user"))


class HoldingServer:
    """uvicorn on a free 127.0.0.1 port, on a thread of its own. `release()` lets every held
    and future completion through; `wait_for` blocks until requests have arrived."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._received: list[Received] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released = asyncio.Event()  # set on the server's loop (bound at first wait)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = quiet_server(self, timeout_keep_alive=60)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> HoldingServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(10)
        self._sock.close()

    def release(self) -> None:
        with self._changed:
            if self._loop is None:
                self._released.set()
            else:
                self._loop.call_soon_threadsafe(self._released.set)

    def received(self, path: str = COMPLETIONS) -> list[Received]:
        with self._changed:
            return [r for r in self._received if r.path == path]

    def wait_for(self, count: int, path: str = COMPLETIONS, within: float = 20.0) -> None:
        """Blocks until `count` requests to `path` have arrived in all."""
        deadline = time.monotonic() + within
        with self._changed:
            while len([r for r in self._received if r.path == path]) < count:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    seen = len([r for r in self._received if r.path == path])
                    raise TimeoutError(f"{seen} of {count} requests to {path} in {within}s")

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._changed:
            self._loop = asyncio.get_running_loop()
            self._received.append(Received(scope["path"], body))
            self._changed.notify_all()
        if scope["path"] != COMPLETIONS:
            await _until_disconnected(receive)
            return
        if await _held(receive, self._released):
            await _answer(send, Received(scope["path"], body))


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _held(receive: Receive, released: asyncio.Event) -> bool:
    """Waits for the release; False when the client went away first (a killed Gateway)."""
    gone = asyncio.ensure_future(_until_disconnected(receive))
    freed = asyncio.ensure_future(released.wait())
    done, _ = await asyncio.wait({gone, freed}, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (gone, freed):
        waiter.cancel()
    await asyncio.gather(gone, freed, return_exceptions=True)
    return gone not in done


async def _answer(send: Send, request: Received) -> None:
    content = answer_to(request.last_user_message())
    if not json.loads(request.body).get("stream"):
        raw = json.dumps(openai_completion(content, model=MODEL)).encode()
        await _start(send, "application/json")
        await send({"type": "http.response.body", "body": raw, "more_body": False})
        return
    await _start(send, "text/event-stream")
    chunks = [
        openai_chunk({"role": "assistant", "content": ""}, model=MODEL),
        openai_chunk({"content": content}, model=MODEL),
        openai_chunk({}, finish_reason="stop", model=MODEL),
        openai_chunk(usage=(12, 3), model=MODEL),
        OPENAI_DONE,
    ]
    for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _start(send: Send, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
