"""The one outbound HTTP client: an `httpx.AsyncClient` whose transport refuses non-public
destinations, pins each connection to the addresses it vetted, and caps response size and time."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import aclosing, contextmanager, suppress
from typing import Any, TypeVar, cast

import httpcore
import httpx

from sophon import __version__
from sophon.platform.netguard import (
    IPAddress,
    OutboundPolicy,
    OutboundRefused,
    Resolver,
    split_allow_setting,
    system_resolver,
    vetted_addresses,
)

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "OutboundPolicy",
    "OutboundRefused",
    "Resolver",
    "ResponseTooLarge",
    "TotalTimeout",
    "outbound_client",
    "split_allow_setting",
    "system_resolver",
    "vetted_addresses",
]

_T = TypeVar("_T")

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
_ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEADLINE = "sophon.deadline"  # request extension carrying the total deadline across redirects
_COALESCED_BYTES = 64 * 1024  # request bytes held back to go out in one write


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
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore failures surface as the httpx exceptions callers already handle."""
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _MAPPED_ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc) or type(exc).__name__) from exc
        raise


class _CoalescedStream(httpcore.AsyncNetworkStream):
    """Holds small writes back until the next read, so a request's head and body leave in one
    write (one system call, one wake-up of the peer) instead of one each. A write that fails
    when flushed is ignored, as httpcore ignores one while sending: the server may have
    answered and closed early, and the read that follows gets its answer or the real error."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._timeout: float | None = None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self._pending.append(buffer)
        self._pending_bytes += len(buffer)
        self._timeout = timeout
        if self._pending_bytes >= _COALESCED_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            await self._stream.write(data, self._timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        with suppress(httpcore.WriteError):
            await self._flush()
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._pending.clear()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's stream interface)
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()  # a proxy's CONNECT is answered before TLS starts: nothing is held
        return _CoalescedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore opens every connection here: the host is normalised, resolved once, EVERY
    address vetted, and the socket opened to a vetted address. TLS (SNI and certificate check)
    and the Host header still use the name, because httpcore keeps the origin's host for them."""

    def __init__(
        self, policy: OutboundPolicy, resolver: Resolver, connector: httpcore.AsyncNetworkBackend
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._connector = connector

    async def _vetted(self, host: str, port: int, limit: float | None) -> list[IPAddress]:
        try:
            return await vetted_addresses(self._policy, self._resolver, host, port, limit)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in await self._vetted(host, port, timeout):
            try:
                stream = await self._connector.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
            else:
                return _CoalescedStream(stream)
        assert failure is not None  # vet() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("Outbound requests over Unix sockets are not allowed.")

    async def sleep(self, seconds: float) -> None:
        await self._connector.sleep(seconds)


async def _before(deadline: float | None, pending: Awaitable[_T]) -> _T:
    """Awaits `pending`, raising TotalTimeout if the deadline (loop time) passes first."""
    if deadline is None:  # no total limit: no timer per request and per chunk
        return await pending
    scope = asyncio.timeout_at(deadline)
    try:
        async with scope:
            return await pending
    except TimeoutError:
        if scope.expired():
            raise TotalTimeout("The outbound request exceeded its total time limit.") from None
        raise


class _CappedStream(httpx.AsyncByteStream):
    """The raw body as it arrives, cut off past `limit` bytes or at the deadline."""

    def __init__(
        self, response: httpcore.Response, limit: int | None, deadline: float | None
    ) -> None:
        self._response = response
        self._limit = limit
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = cast(AsyncGenerator[bytes, None], self._response.aiter_stream())
        seen = 0
        async with aclosing(chunks):
            while True:
                try:
                    with _httpx_errors():
                        chunk = await _before(self._deadline, anext(chunks))
                except StopAsyncIteration:
                    return
                except TotalTimeout:
                    await self.aclose()
                    raise
                seen += len(chunk)
                if self._limit is not None and seen > self._limit:
                    await self.aclose()
                    raise ResponseTooLarge(f"The response exceeded {self._limit} bytes.")
                yield chunk

    async def aclose(self) -> None:
        with _httpx_errors():
            await self._response.aclose()


class _CappedResponse(httpx.Response):
    """Caps the decoded body too, so a small compressed body can't expand without bound."""

    def __init__(self, *args: Any, max_decoded_bytes: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_decoded_bytes = max_decoded_bytes

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        limit = self._max_decoded_bytes
        seen = 0
        async for chunk in super().aiter_bytes(chunk_size):
            seen += len(chunk)
            if limit is not None and seen > limit:
                raise ResponseTooLarge(
                    f"The decoded response exceeded {limit} bytes.", request=self.request
                )
            yield chunk

    async def aclose(self) -> None:
        await super().aclose()
        # httpx's client binds the body's stream to its response, a reference cycle that kept
        # every model call's request and connection objects alive until a collection (each
        # turn's main garbage): once closed, the stream is never read again
        self.stream = _CLOSED


_CLOSED = httpx.ByteStream(b"")


class GuardedTransport(httpx.AsyncBaseTransport):
    """Speaks HTTP/1.1 through httpcore with the guarded network backend. Each request (and so
    each redirect hop the client follows) is checked for scheme and credentials here and for its
    destination when its connection is opened."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolver: Resolver = system_resolver,
        connector: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        total_timeout: float | None = None,
    ) -> None:
        backend = _GuardedBackend(policy, resolver, connector or httpcore.AnyIOBackend())
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
        self._max_response_bytes = max_response_bytes
        self._total_timeout = total_timeout

    def _deadline(self, request: httpx.Request) -> float | None:
        if self._total_timeout is None:
            return None
        # Redirect requests copy the extensions, so the first hop's deadline covers them all.
        deadline = request.extensions.setdefault(
            _DEADLINE, asyncio.get_running_loop().time() + self._total_timeout
        )
        return float(deadline)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _ALLOWED_SCHEMES:
            raise OutboundRefused(
                f"Outbound request refused: scheme {url.scheme!r} is not allowed (http, https).",
                {"reason": "scheme"},
            )
        if url.userinfo:
            raise OutboundRefused(
                "Outbound request refused: credentials in the URL are not allowed; "
                "send them in a header.",
                {"host": url.host, "reason": "credentials"},
            )
        deadline = self._deadline(request)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await _before(deadline, self._pool.handle_async_request(core_request))
        return _CappedResponse(
            status_code=response.status,
            headers=response.headers,
            stream=_CappedStream(response, self._max_response_bytes, deadline),
            extensions=response.extensions,
            max_decoded_bytes=self._max_response_bytes,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def outbound_client(
    *,
    allow: Sequence[str] = (),
    allow_loopback: bool = False,
    resolver: Resolver = system_resolver,
    connector: httpcore.AsyncNetworkBackend | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    total_timeout: float | None = None,
    max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    follow_redirects: bool = True,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits = DEFAULT_LIMITS,
    headers: Mapping[str, str] | None = None,
    base_url: str = "",
) -> httpx.AsyncClient:
    """An ordinary `httpx.AsyncClient` (get/post/stream/send...) that refuses non-public
    destinations unless `allow` or `allow_loopback` let them through.

    `allow`: entries as accepted by `AllowEntry.parse` (`127.0.0.1:11434`, `10.0.0.0/8`,
    `localhost`, `[fd00::1]:8080`); raises ValueError for a malformed one. `resolver` turns names
    into addresses (tests inject one); `connector` opens sockets to vetted addresses (default:
    httpcore's AnyIO backend). `timeout` sets connect/read/write/pool; `total_timeout` bounds a
    whole exchange, redirects and body included (`TotalTimeout`). `max_response_bytes` caps the
    body on the wire and decoded (`ResponseTooLarge`). Redirects (at most `max_redirects`) are
    followed by httpx, and every hop goes through the guard again. No proxy or `.netrc` from the
    environment is used: a proxy would resolve names itself and defeat the address check."""
    policy = OutboundPolicy(allow, allow_loopback=allow_loopback)
    ssl_context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
    transport = GuardedTransport(
        policy,
        resolver=resolver,
        connector=connector,
        ssl_context=ssl_context,
        limits=limits,
        max_response_bytes=max_response_bytes,
        total_timeout=total_timeout,
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers={"user-agent": f"Sophon-Gateway/{__version__}", **(headers or {})},
        base_url=base_url,
        trust_env=False,
    )
