"""A small raw SignalR JSON-protocol client over the `websockets` library, to test the wire
format itself (the official clients are tested beside it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from itertools import count
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

RS = "\x1e"
HANDSHAKE = json.dumps({"protocol": "json", "version": 1}) + RS


class RawHub:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.received: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._ids = count(1)

    @classmethod
    async def open(
        cls, ws_url: str, *, handshake: bool = True, headers: dict[str, str] | None = None
    ) -> RawHub:
        socket = await connect(ws_url, additional_headers=headers or {}, open_timeout=10)
        hub = cls(socket)
        if handshake:
            await hub.send_text(HANDSHAKE)
            answer = await hub.next()
            assert answer == {}, answer
        return hub

    async def send_text(self, text: str) -> None:
        await self.socket.send(text)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(json.dumps(message) + RS)

    async def _read(self) -> None:
        data = await self.socket.recv()
        text = data if isinstance(data, str) else data.decode()
        assert text.endswith(RS), text
        for part in text.split(RS)[:-1]:
            self._pending.append(json.loads(part))

    async def next(self, within: float = 10.0) -> dict[str, Any]:
        """The next message, pings included."""
        async with asyncio.timeout(within):
            while not self._pending:
                await self._read()
        message = self._pending.pop(0)
        self.received.append(message)
        return message

    async def next_matching(
        self, accept: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> dict[str, Any]:
        """The first message (read or still to come) that matches; the others stay queued."""
        async with asyncio.timeout(within):
            while True:
                for index, message in enumerate(self._pending):
                    if accept(message):
                        del self._pending[index]
                        self.received.append(message)
                        return message
                await self._read()

    def seen(self, accept: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The messages so far, taken or still queued, that match."""
        return [m for m in (*self.received, *self._pending) if accept(m)]

    def events(self) -> list[dict[str, Any]]:
        """Every server-to-client invocation seen so far."""
        return self.seen(lambda m: m.get("type") == 1)

    async def event(self, target: str, within: float = 10.0) -> Any:
        message = await self.next_matching(
            lambda m: m.get("type") == 1 and m.get("target") == target, within
        )
        return message["arguments"][0]

    async def invoke(self, target: str, *arguments: Any) -> dict[str, Any]:
        """Sends an invocation and returns its completion message."""
        invocation_id = str(next(self._ids))
        await self.send(
            {
                "type": 1,
                "invocationId": invocation_id,
                "target": target,
                "arguments": list(arguments),
            }
        )
        return await self.next_matching(
            lambda m: m.get("type") == 3 and m.get("invocationId") == invocation_id
        )

    async def result(self, target: str, *arguments: Any) -> Any:
        completion = await self.invoke(target, *arguments)
        assert "error" not in completion, completion
        return completion.get("result")

    async def closed(self, within: float = 10.0) -> tuple[dict[str, Any] | None, int | None]:
        """Reads until the socket closes: the Close message seen (if any) and the close code."""
        close: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(within):
                while True:
                    message = await self.next(within)
                    if message.get("type") == 7:
                        close = message
        except ConnectionClosed as exc:
            return close, exc.rcvd.code if exc.rcvd else None
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.socket.close()

    async def __aenter__(self) -> RawHub:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
