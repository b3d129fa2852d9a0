"""Builds provider adapters over the SSRF-guarded outbound client, with the loopback exception
for local model servers."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpcore
import httpx

from sophon.llm import Provider, RetryPolicy, build_provider
from sophon.llm.transport import Sleep
from sophon.platform.http import outbound_client, split_allow_setting
from sophon.settings import Settings


@dataclass
class ProviderRuntime:
    """Process-wide provider plumbing on the Gateway. `allow` are the `outbound_allow` entries;
    `allow_local` lets `openai`-type providers reach loopback. `retry`, `sleep` and `connector`
    are swappable for tests."""

    allow: tuple[str, ...] = ()
    allow_local: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    connector: httpcore.AsyncNetworkBackend | None = None
    _tls: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderRuntime:
        return cls(
            allow=split_allow_setting(settings.outbound_allow),
            allow_local=settings.allow_local_model_servers,
        )

    async def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the CA bundle is slow file I/O: off the loop, once
            self._tls = await asyncio.to_thread(httpx.create_ssl_context)
        return self._tls

    @asynccontextmanager
    async def client(self, provider_type: str) -> AsyncIterator[httpx.AsyncClient]:
        """A guarded client for one provider type, closed on exit."""
        loopback = self.allow_local and provider_type == "openai"
        async with outbound_client(
            allow=self.allow,
            allow_loopback=loopback,
            connector=self.connector,
            verify=await self._tls_context(),
        ) as http:
            yield http

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
        return build_provider(
            provider_type,
            client,
            name=name,
            base_url=base_url,
            api_key=api_key,
            retry=self.retry if retry is None else retry,
            sleep=self.sleep,
        )
