"""A keep-alive HTTP/1.1 server on 127.0.0.1 whose routes script how each response is framed
and whether the connection stays open; it records every request and connection."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import httptools


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which connection (1, 2...) carried it
    nth: int  # its place on that connection (1, 2...)


class _Request:
    """Collects one request from the parser's callbacks."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body = b""
        self.done: list[bool] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done.append(True)


Writer = asyncio.StreamWriter
Route = Callable[[Received, Writer], Awaitable[bool]]  # True: keep the connection open


def head(status: int = 200, reason: str = "OK", **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def sized(seen: Received, writer: Writer) -> bool:
    body = f"{seen.method} {seen.path} {len(seen.body)}".encode()
    writer.write(head(content_length=str(len(body))) + body)
    return True


async def chunked(seen: Received, writer: Writer) -> bool:
    writer.write(head(content_type="text/event-stream", transfer_encoding="chunked"))
    for event in (b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"):
        writer.write(b"%x\r\n%b\r\n" % (len(event), event))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    return True


async def until_close(seen: Received, writer: Writer) -> bool:
    writer.write(head() + b"the body runs to the close")
    return False


async def answer_then_close(seen: Received, writer: Writer) -> bool:
    writer.write(head(content_length="2") + b"ok")
    return False


async def dropped_when_kept(seen: Received, writer: Writer) -> bool:
    """Closes a kept connection without an answer, as a server does that closed it while the
    request was on its way; answers on a new connection."""
    return seen.nth == 1 and await sized(seen, writer)


async def early_hints(seen: Received, writer: Writer) -> bool:
    writer.write(head(103, "Early Hints", link="</style.css>; rel=preload"))
    writer.write(head(content_length="5") + b"final")
    return True


async def head_only(seen: Received, writer: Writer) -> bool:
    writer.write(head(content_length="1000"))
    return True


@dataclass
class KeepAliveServer:
    """`routes` maps a path to its script; unknown paths answer like /sized. Every request on
    a connection is answered in turn until a script says to close."""

    routes: dict[str, Route] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    hold: asyncio.Event = field(default_factory=asyncio.Event)  # /hold and /partial wait for it
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[Writer] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAliveServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self.hold.set()
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://{host}:{port}{path}"

    @property
    def allow(self) -> list[str]:
        assert self._server is not None
        return [f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"]

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        number = self.connections
        try:
            keep_open, nth = True, 0
            while keep_open:
                nth += 1
                seen = await self._read(reader, number, nth)
                if seen is None:
                    return
                self.requests.append(seen)
                if seen.path == "/hold":
                    await self.hold.wait()
                route = self._partial if seen.path == "/partial" else self.routes.get(seen.path)
                keep_open = await (route or sized)(seen, writer)
                await writer.drain()
        except ConnectionError:
            pass  # the client went away: some tests provoke it
        finally:
            writer.close()
            self._writers.discard(writer)
            self._handlers.discard(task)

    async def _partial(self, seen: Received, writer: Writer) -> bool:
        """The head and one chunk, the rest once `hold` is set."""
        writer.write(head(transfer_encoding="chunked") + b"5\r\nfirst\r\n")
        await writer.drain()
        await self.hold.wait()
        writer.write(b"4\r\nrest\r\n0\r\n\r\n")
        return True

    async def _read(self, reader: asyncio.StreamReader, number: int, nth: int) -> Received | None:
        request = _Request()
        parser = httptools.HttpRequestParser(request)
        while not request.done:
            data = await reader.read(65536)
            if not data:
                return None
            parser.feed_data(data)
        method = parser.get_method().decode()
        path = request.url.decode()
        return Received(method, path, request.headers, request.body, number, nth)
