"""A loopback HTTP receiver for outbound deliveries: records every request and answers with
scripted statuses (200 once the script runs out), on a uvicorn thread of its own."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from starlette.types import Message, Receive, Send

from tests.llm.fakes import quiet_server


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits: list[Hit] = []
        self._statuses: deque[tuple[int, dict[str, str]]] = deque()
        self.hold = threading.Event()  # set: requests wait until it is cleared
        self.held_paths: set[str] | None = None  # with `hold`: only these paths wait (None: all)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(256)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = quiet_server(self)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = self._server.force_exit = True
        self._thread.join(10)
        self._sock.close()

    def answer(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._statuses.extend((s, dict(headers or {})) for s in statuses)

    def of(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    async def wait(self, path: str, count: int = 1, within: float = 20.0) -> list[Hit]:
        async with asyncio.timeout(within):
            while len(self.of(path)) < count:  # noqa: ASYNC110 - filled by another thread
                await asyncio.sleep(0.02)
        return self.of(path)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self._lock:
            self.hits.append(Hit(scope["path"], headers, body))
            status, extra = self._statuses.popleft() if self._statuses else (200, {})
        while self.hold.is_set() and (  # noqa: ASYNC110 - released by the test's thread
            self.held_paths is None or scope["path"] in self.held_paths
        ):
            await asyncio.sleep(0.02)
        raw = [(b"content-type", b"text/plain")] + [
            (k.encode(), v.encode()) for k, v in extra.items()
        ]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"ok " + str(status).encode()})
