"""Typed provider failures: each says whether a retry or a failover to another provider may help."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

from sophon.platform.clock import utcnow
from sophon.platform.errors import UpstreamUnavailable


class ProviderError(Exception):
    """Base of every adapter failure.

    `retryable` is True when the same request may succeed later or elsewhere (429, 5xx, network,
    timeouts, garbled responses): the router fails over to the next provider. `status` is the
    upstream HTTP status when there was one; `retry_after` is the delay in seconds the upstream
    asked for; `provider` is the name of the configured provider that failed."""

    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        self.retryable = self.default_retryable if retryable is None else retryable

    def to_domain_error(self) -> UpstreamUnavailable:
        """The wire error (502 upstream_unavailable) for when no provider could answer."""
        details: dict[str, object] = {"provider": self.provider, "retryable": self.retryable}
        if self.status is not None:
            details["status"] = self.status
        if self.retry_after is not None:
            details["retryAfter"] = self.retry_after
        return UpstreamUnavailable(self.message, details)


class ProviderRateLimited(ProviderError):
    """429 or a rate-limit error event."""

    default_retryable = True


class ProviderUnavailable(ProviderError):
    """5xx, overload, connection failure or a stream that broke off."""

    default_retryable = True


class ProviderTimeout(ProviderUnavailable):
    """Connect, read, write or pool timeout."""


class ProviderProtocolError(ProviderError):
    """The upstream answered with something that is not its documented wire format."""

    default_retryable = True


class ProviderAuthError(ProviderError):
    """401/403: the key is missing, wrong or lacks access. Retrying cannot help."""


class ProviderBadRequest(ProviderError):
    """Any other 4xx (bad parameters, unknown model, context too long): the request is at fault."""


def error_for_status(
    status: int, message: str, *, provider: str, retry_after: float | None = None
) -> ProviderError:
    """Maps an upstream HTTP status to the error type callers branch on."""
    text = f"{provider}: HTTP {status}: {message}" if message else f"{provider}: HTTP {status}"
    cls: type[ProviderError]
    if status in (401, 403):
        cls = ProviderAuthError
    elif status == 429:
        cls = ProviderRateLimited
    elif status == 408 or status >= 500:
        cls = ProviderUnavailable
    else:
        cls = ProviderBadRequest
    return cls(text, provider=provider, status=status, retry_after=retry_after)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` (OpenAI) or `Retry-After` (seconds or HTTP date)."""
    millis = _seconds(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - (now or utcnow())).total_seconds())


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None
