"""Builds provider adapters over the SSRF-guarded outbound client, with the loopback exception
for local model servers.

The clients are kept for the process (one per outbound policy), so a turn reuses its provider's
pooled connection instead of opening (and vetting, and for TLS handshaking) a new one. That is
as safe as a new connection: the guard vets the ADDRESSES a connection is opened to, and a
pooled connection stays bound to the address vetted when it was opened; the pool hands it only
to a request for the same origin (scheme, host, port), and only within the client, i.e. the
policy, that vetted it. A name that resolves elsewhere later (DNS rebinding) is resolved and
vetted again when a new connection is opened."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sophon.platform.netguard import split_allow_setting
from sophon.settings import Settings

if TYPE_CHECKING:
    import httpcore
    import httpx

    from sophon.llm import Provider, RetryPolicy
    from sophon.llm.transport import Sleep


@dataclass
class ProviderRuntime:
    """Process-wide provider plumbing on the Gateway. `allow` are the `outbound_allow` entries;
    `allow_local` lets `openai`-type providers reach loopback. `retry`, `sleep` and `connector`
    are swappable for tests."""

    allow: tuple[str, ...] = ()
    allow_local: bool = True
    retry: RetryPolicy | None = None
    """None: the adapters' own policy."""
    sleep: Sleep = asyncio.sleep
    connector: httpcore.AsyncNetworkBackend | None = None
    _tls: ssl.SSLContext | None = None
    _clients: dict[tuple[tuple[str, ...], bool], tuple[Any, httpx.AsyncClient]] = field(
        default_factory=dict
    )
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRuntime:
        return cls(
            allow=split_allow_setting(settings.outbound_allow),
            allow_local=settings.allow_local_model_servers,
        )

    async def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the CA bundle is slow file I/O: off the loop, once
            import httpx  # the HTTP client loads on the first model call, not at start-up

            self._tls = await asyncio.to_thread(httpx.create_ssl_context)
        return self._tls

    @asynccontextmanager
    async def client(self, provider_type: str) -> AsyncIterator[httpx.AsyncClient]:
        """The guarded client for one provider type, shared by every call with the same policy
        (its connections are pooled); `aclose` closes them."""
        loopback = self.allow_local and provider_type == "openai"
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # connections belong to one event loop (tests run several)
            self._clients = {}
            self._loop = loop
        tls = await self._tls_context()  # does not suspend once loaded
        key = (self.allow, loopback)  # what decides where a connection may go
        kept = self._clients.get(key)
        if kept is None or kept[0] is not self.connector:
            from http.cookiejar import DefaultCookiePolicy

            from sophon.platform.http import outbound_client

            http = outbound_client(
                allow=self.allow, allow_loopback=loopback, connector=self.connector, verify=tls
            )
            # the client serves every tenant: a cookie one call got must not ride on another's
            http.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            self._clients[key] = (self.connector, http)
            if kept is not None:  # a test swapped the connector
                await kept[1].aclose()
        else:
            http = kept[1]
        yield http

    async def aclose(self) -> None:
        """Closes the pooled clients (at shutdown)."""
        clients, self._clients = [http for _, http in self._clients.values()], {}
        if self._loop is asyncio.get_running_loop():
            for http in clients:
                await http.aclose()

    def adapter(
        self,
        provider_type: str,
        client: httpx.AsyncClient | None,
        *,
        name: str,
        base_url: str | None,
        api_key: str | None,
        retry: RetryPolicy | None = None,
    ) -> Provider:
        from sophon.llm import build_provider  # the model adapters load on the first model call

        return build_provider(
            provider_type,
            client,
            name=name,
            base_url=base_url,
            api_key=api_key,
            retry=self.retry if retry is None else retry,
            sleep=self.sleep,
        )
