"""Builds a provider adapter from its configured type (`openai`, `anthropic`, `echo`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from sophon.llm.anthropic import ANTHROPIC_BASE_URL, AnthropicProvider
from sophon.llm.base import Provider
from sophon.llm.echo import EchoProvider
from sophon.llm.openai import OPENAI_BASE_URL, OpenAIProvider
from sophon.llm.transport import DEFAULT_TIMEOUT, RetryPolicy, Sleep

PROVIDER_TYPES = ("openai", "anthropic", "echo")


class UnknownProviderType(ValueError):
    """The configured type is not one this Gateway has an adapter for."""


def build_provider(
    provider_type: str,
    client: httpx.AsyncClient | None,
    *,
    name: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: httpx.Timeout | float | None = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Provider:
    """`client` is the Gateway's SSRF-guarded client; only `echo` may go without one."""
    if provider_type == "echo":
        return EchoProvider(name or "echo")
    if provider_type not in PROVIDER_TYPES:
        raise UnknownProviderType(f"unknown provider type {provider_type!r}")
    if client is None:
        raise ValueError(f"provider type {provider_type!r} needs an HTTP client")
    if provider_type == "anthropic":
        return AnthropicProvider(
            client,
            api_key=api_key,
            base_url=base_url or ANTHROPIC_BASE_URL,
            name=name or provider_type,
            headers=headers,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
        )
    return OpenAIProvider(
        client,
        base_url=base_url or OPENAI_BASE_URL,
        api_key=api_key,
        name=name or provider_type,
        headers=headers,
        timeout=timeout,
        retry=retry,
        sleep=sleep,
    )
