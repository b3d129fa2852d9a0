"""HTTP/1.1 for the outbound client: keep-alive connections pooled per origin, requests written
in as few writes as possible, responses parsed by httptools and streamed. Connections are
opened by an httpcore network backend (the guarded one: every socket goes to a vetted address);
failures surface as the httpx exceptions callers handle."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import AsyncIterator
from contextlib import suppress

import httpcore
import httptools
import httpx

Origin = tuple[bytes, bytes, int]  # scheme, host, port

_READ_BYTES = 64 * 1024
_COALESCED_BYTES = 64 * 1024  # request bytes held back to go out in one write
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # CR/LF would smuggle a header
_UNSAFE_TARGET = re.compile(rb"[\x00-\x20\x7f]")
_NO_RESPONSE = "Server disconnected without sending a response."


class ResponseTooLarge(httpx.RequestError):
    """The response body (on the wire or once decoded) exceeded the client's byte cap."""


class TotalTimeout(httpx.TimeoutException):
    """The exchange, redirects included, outlasted the client's total time limit."""


# Specific classes first: the first isinstance match decides.
_MAPPED_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
)


class Timer:
    """A request's total deadline (loop time, None: none) folded into each wait's own limit."""

    __slots__ = ("_by_deadline", "_loop", "deadline")

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self._loop = asyncio.get_running_loop()
        self._by_deadline = False

    def limit(self, timeout: float | None) -> float | None:
        """The time the next wait may take: its own timeout or what is left, the shorter."""
        if self.deadline is None:
            return timeout
        left = max(self.deadline - self._loop.time(), 0.0)
        self._by_deadline = timeout is None or left <= timeout
        return left if self._by_deadline else timeout

    def translate(self, exc: httpcore.TimeoutException | httpcore.NetworkError) -> httpx.HTTPError:
        """The httpx exception for a network failure of the last wait `limit` bounded."""
        if isinstance(exc, httpcore.TimeoutException) and self._by_deadline:
            return TotalTimeout("The outbound request exceeded its total time limit.")
        for core_error, httpx_error in _MAPPED_ERRORS:
            if isinstance(exc, core_error):
                return httpx_error(str(exc) or type(exc).__name__)
        raise AssertionError(exc)  # the table covers both base classes


def _timeouts(request: httpx.Request) -> dict[str, float | None]:
    timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
    return timeouts


class _Stale(Exception):
    """A reused connection ended before any byte of the response arrived: the server had
    closed it while it sat idle."""


class Connection:
    """One HTTP/1.1 connection to one origin; the pool hands it to one request at a time."""

    __slots__ = ("idle_since", "origin", "reused", "stream")

    def __init__(self, stream: httpcore.AsyncNetworkStream, origin: Origin) -> None:
        self.stream = stream
        self.origin = origin
        self.reused = False
        self.idle_since = 0.0

    async def read(self, timer: Timer, wait: float | None) -> bytes:
        try:
            return await self.stream.read(_READ_BYTES, timer.limit(wait))
        except (httpcore.TimeoutException, httpcore.NetworkError) as exc:
            raise timer.translate(exc) from exc

    async def write(self, data: bytes, timer: Timer, wait: float | None) -> None:
        try:
            await self.stream.write(data, timer.limit(wait))
        except (httpcore.TimeoutException, httpcore.NetworkError) as exc:
            raise timer.translate(exc) from exc


def _request_head(request: httpx.Request) -> tuple[bytes, bool]:
    """The request line and headers, and whether the body goes chunked."""
    method = request.method.encode("ascii")
    target = request.url.raw_path
    if not _TOKEN.fullmatch(method) or _UNSAFE_TARGET.search(target):
        raise httpx.LocalProtocolError(f"Illegal request line {method!r} {target!r}")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        if not _TOKEN.fullmatch(name) or _UNSAFE_VALUE.search(value):
            raise httpx.LocalProtocolError(f"Illegal header {name!r}")
        if name.lower() == b"transfer-encoding":
            chunked = value.lower() == b"chunked"
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts), chunked


async def _send_request(
    connection: Connection, request: httpx.Request, head: bytes, chunked: bool, timer: Timer
) -> None:
    """Writes the request: its head and a small body in one write (one system call, one
    wake-up of the peer), a large body in pieces of at least 64 KiB. A failed write is
    ignored, as httpcore ignores one: the server may have answered and closed early, and the
    read that follows gets its answer or the real error."""
    timeout = _timeouts(request).get("write")
    pending, size = [head], len(head)
    assert isinstance(request.stream, httpx.AsyncByteStream)  # what an AsyncClient builds
    try:
        async for chunk in request.stream:
            if not chunk:
                continue
            if chunked:
                chunk = b"%x\r\n%b\r\n" % (len(chunk), chunk)
            pending.append(chunk)
            size += len(chunk)
            if size >= _COALESCED_BYTES:
                await connection.write(b"".join(pending), timer, timeout)
                pending, size = [], 0
        if chunked:
            pending.append(b"0\r\n\r\n")
        await connection.write(b"".join(pending), timer, timeout)
    except httpx.WriteError:
        pass


class Exchange:
    """The response to one request on one connection, fed to httptools as it arrives (the
    parser calls the `on_*` methods)."""

    def __init__(self, pool: Pool, connection: Connection, request: httpx.Request, timer: Timer):
        self.pool = pool
        self.connection = connection
        self.timer = timer
        self._read_timeout = _timeouts(request).get("read")
        self._head_only = request.method == "HEAD"
        # the parser holds this exchange: `release` drops it, so no cycle waits for the collector
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.http_version = b"HTTP/1.1"
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self._framed = False  # Content-Length or Transfer-Encoding: else the body ends at close
        self._head_done = False
        self.complete = False
        self._reusable = True
        self._received_any = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None  # it is the parser calling
        status = parser.get_status_code()
        if 100 <= status < 200:  # informational (103 Early Hints...): the answer follows
            self.reason, self.headers, self._framed = b"", [], False
            return
        self.status = status
        self.http_version = b"HTTP/" + parser.get_http_version().encode("ascii")
        self._head_done = True
        if self._head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_begin(self) -> None:
        if self.complete:  # bytes after the answer: nothing this connection can be trusted with
            self._reusable = False

    def on_message_complete(self) -> None:
        if self._head_done and not self.complete:
            self._finish()

    def _finish(self) -> None:
        self.complete = True
        assert self._parser is not None  # it is the parser calling
        self._reusable = self._reusable and self._parser.should_keep_alive()

    async def read_head(self) -> None:
        while not self._head_done:
            await self.receive()

    async def receive(self) -> None:
        """Reads what the server sent next into the parser; at the end of the stream, completes
        a body that runs to the close or fails."""
        if self._parser is None:
            raise httpx.StreamClosed
        try:
            data = await self.connection.read(self.timer, self._read_timeout)
        except httpx.ReadError:
            if self.connection.reused and not self._received_any:
                raise _Stale from None
            raise
        if not data:
            self._reusable = False
            if self._head_done and not self._framed:
                self.complete = True
                return
            if self._head_done:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            if self.connection.reused and not self._received_any:
                raise _Stale
            raise httpx.RemoteProtocolError(_NO_RESPONSE)
        self._received_any = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._reusable = False
            raise httpx.RemoteProtocolError(f"malformed response: {exc}") from exc

    async def release(self) -> None:
        """Hands the connection back: kept for the next request when the answer was read to
        its end and both sides keep it alive, otherwise closed. Once."""
        if self._parser is not None:
            self._parser = None
            await self.pool.release(self.connection, self.complete and self._reusable)


class ResponseBody(httpx.AsyncByteStream):
    """The raw body as it arrives, cut off after `limit` bytes."""

    def __init__(self, exchange: Exchange, limit: int | None) -> None:
        self._exchange = exchange
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        seen = 0
        try:
            while True:
                if exchange.body:
                    chunk = b"".join(exchange.body)
                    exchange.body.clear()
                    seen += len(chunk)
                    if self._limit is not None and seen > self._limit:
                        if allowed := self._limit - seen + len(chunk):
                            yield chunk[:allowed]
                        raise ResponseTooLarge(f"The response exceeded {self._limit} bytes.")
                    yield chunk
                if exchange.complete:
                    break
                await exchange.receive()
        except BaseException:
            await exchange.release()
            raise
        await exchange.release()

    async def aclose(self) -> None:
        await self._exchange.release()


class Pool:
    """Keep-alive connections per origin: at most `max_connections` open (a request waits up
    to its pool timeout for one), at most `max_keepalive_connections` idle, none idle longer
    than `keepalive_expiry`, and none reused that the server closed or spoke on while idle."""

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
    ) -> None:
        self._backend = backend
        self._ssl_context = ssl_context
        ssl_context.set_alpn_protocols(["http/1.1"])
        self._max_open: int | None = limits.max_connections
        self._max_idle: int | None = limits.max_keepalive_connections
        self._expiry: float | None = limits.keepalive_expiry
        self._open: set[Connection] = set()
        self._opening = 0
        self._idle: list[Connection] = []  # the longest idle first
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def request(self, request: httpx.Request, timer: Timer) -> Exchange:
        """Sends `request` and reads its response head. A reused connection the server closed
        before answering is replaced by a new one once, when sending again is safe."""
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        replayable = request.method in _IDEMPOTENT and isinstance(request.stream, httpx.ByteStream)
        head, chunked = _request_head(request)  # refused before a connection is taken
        fresh = False
        while True:
            connection = await self._acquire(origin, request, timer, fresh)
            exchange = Exchange(self, connection, request, timer)
            try:
                await _send_request(connection, request, head, chunked, timer)
                await exchange.read_head()
            except _Stale:
                await exchange.release()
                if fresh or not replayable:
                    raise httpx.RemoteProtocolError(_NO_RESPONSE) from None
                fresh = True
                continue
            except BaseException:
                await exchange.release()
                raise
            return exchange

    async def _acquire(
        self, origin: Origin, request: httpx.Request, timer: Timer, fresh: bool
    ) -> Connection:
        timeouts = _timeouts(request)
        pool_timeout = timer.limit(timeouts.get("pool"))
        loop = asyncio.get_running_loop()
        waited_until = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            idle = None if fresh else await self._idle_for(origin)
            if idle is not None:
                idle.reused = True
                return idle
            if self._max_open is None or len(self._open) + self._opening < self._max_open:
                break
            if self._idle:  # an idle connection to another origin gives up its place
                await self._close(self._idle[0])
                continue
            await self._wait_for_room(waited_until, timer)
        self._opening += 1
        try:
            stream = await self._connect(origin, timeouts.get("connect"), timer)
        finally:
            self._opening -= 1
            self._wake_one()
        connection = Connection(stream, origin)
        self._open.add(connection)
        return connection

    async def _wait_for_room(self, until: float | None, timer: Timer) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout_at(until):
                await waiter
        except TimeoutError:
            exc = httpcore.PoolTimeout("no connection became free in time")
            raise timer.translate(exc) from None
        finally:
            if waiter in self._waiting:
                self._waiting.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connect(
        self, origin: Origin, wait: float | None, timer: Timer
    ) -> httpcore.AsyncNetworkStream:
        scheme, host, port = origin
        name = host.decode("ascii")
        try:
            stream = await self._backend.connect_tcp(name, port, timer.limit(wait))
            if scheme == b"https":
                try:
                    stream = await stream.start_tls(self._ssl_context, name, timer.limit(wait))
                except BaseException:
                    await stream.aclose()
                    raise
        except (httpcore.TimeoutException, httpcore.NetworkError) as exc:
            raise timer.translate(exc) from exc
        return stream

    async def _idle_for(self, origin: Origin) -> Connection | None:
        """The most recently used idle connection to `origin` the server has not closed (nor
        spoken on); closes the expired ones on the way."""
        if not self._idle:
            return None
        if self._expiry is not None:
            too_old = asyncio.get_running_loop().time() - self._expiry
            for connection in [kept for kept in self._idle if kept.idle_since <= too_old]:
                await self._close(connection)
        for connection in reversed(self._idle):
            if connection.origin == origin:
                if connection.stream.get_extra_info("is_readable"):
                    await self._close(connection)
                    return await self._idle_for(origin)
                self._idle.remove(connection)
                return connection
        return None

    async def release(self, connection: Connection, reusable: bool) -> None:
        if not reusable or connection not in self._open:
            await self._close(connection)
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.append(connection)
        if self._max_idle is not None and len(self._idle) > self._max_idle:
            await self._close(self._idle[0])
        self._wake_one()

    async def _close(self, connection: Connection) -> None:
        self._open.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)
        self._wake_one()
        with suppress(OSError, httpcore.NetworkError):  # a broken connection: nothing is lost
            await connection.stream.aclose()

    async def aclose(self) -> None:
        """Closes every connection, those in use included."""
        for connection in list(self._open):
            await self._close(connection)
