"""The one outbound HTTP client: an `httpx.AsyncClient` whose transport refuses non-public
destinations, pins each connection to the addresses it vetted, and caps response size and time."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import httpcore
import httpx

from sophon import __version__
from sophon.platform.http1 import Pool, ResponseBody, ResponseTooLarge, Timer, TotalTimeout
from sophon.platform.http_socket import AsyncioBackend
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

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
_ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEADLINE = "sophon.deadline"  # request extension carrying the total deadline across redirects


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
                return stream
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
    """Speaks HTTP/1.1 (platform.http1) over connections the guarded backend opens. Each request
    (and so each redirect hop the client follows) is checked for scheme and credentials here and
    for its destination when its connection is opened."""

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
        backend = _GuardedBackend(policy, resolver, connector or AsyncioBackend())
        self._pool = Pool(backend, ssl_context, limits)
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
        exchange = await self._pool.request(request, Timer(self._deadline(request)))
        return _CappedResponse(
            status_code=exchange.status,
            headers=exchange.headers,
            stream=ResponseBody(exchange, self._max_response_bytes),
            extensions={"http_version": exchange.http_version, "reason_phrase": exchange.reason},
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
    asyncio's, platform.http_socket). `timeout` sets connect/read/write/pool; `total_timeout`
    bounds a whole exchange, redirects and body included (`TotalTimeout`). `max_response_bytes`
    caps the body on the wire and decoded (`ResponseTooLarge`). Redirects (at most
    `max_redirects`) are followed by httpx, and every hop goes through the guard again. No proxy
    or `.netrc` from the environment is used: a proxy would resolve names itself and defeat the
    address check; nor HTTP/2 (the pool speaks HTTP/1.1 only)."""
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
