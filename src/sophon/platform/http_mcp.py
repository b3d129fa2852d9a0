"""The guarded outbound client for the MCP SDK, which speaks `httpx2` (not `httpx`): the same
rules as `platform.http` (every address a name resolves to vetted when a connection opens, the
socket pinned to a vetted address, no proxy or `.netrc` from the environment), so a name that
re-resolves to a private address after an earlier check (DNS rebinding) is refused at connect
time. `mcp_client_factory` has the shape of the SDK's `McpHttpClientFactory`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from sophon.platform.http import Resolver, system_resolver, vetted_addresses
from sophon.platform.netguard import OutboundPolicy, OutboundRefused

_ALLOWED_SCHEMES = frozenset({"http", "https"})


class _GuardedBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, policy: OutboundPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._connector = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's backend interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            addresses = await vetted_addresses(self._policy, self._resolver, host, port, timeout)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore2.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: httpcore2.ConnectError | None = None
        for address in addresses:
            try:
                return await self._connector.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore2.ConnectError as exc:
                failure = exc
        assert failure is not None  # vet() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's backend interface)
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise OutboundRefused("Outbound requests over Unix sockets are not allowed.")

    async def sleep(self, seconds: float) -> None:
        await self._connector.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with its connection pool opening sockets through the guard."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(policy, resolver),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme not in _ALLOWED_SCHEMES:
            raise OutboundRefused(
                f"Outbound request refused: scheme {request.url.scheme!r} is not allowed.",
                {"reason": "scheme"},
            )
        return await super().handle_async_request(request)


def mcp_client_factory(policy: OutboundPolicy, resolver: Resolver = system_resolver) -> Any:
    """A factory the SDK's SSE and streamable-HTTP clients take: `(headers, timeout, auth)`."""

    def make(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=GuardedTransport(policy, resolver),
            headers=headers,
            timeout=timeout if timeout is not None else httpx2.Timeout(30.0, read=300.0),
            auth=auth,
            trust_env=False,
        )

    return make
