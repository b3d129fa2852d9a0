"""Error typing, Retry-After parsing and the retry policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sophon.llm import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    RetryPolicy,
)
from sophon.llm.errors import error_for_status, parse_retry_after


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, ProviderBadRequest, False),
        (401, ProviderAuthError, False),
        (403, ProviderAuthError, False),
        (404, ProviderBadRequest, False),
        (408, ProviderUnavailable, True),
        (429, ProviderRateLimited, True),
        (500, ProviderUnavailable, True),
        (529, ProviderUnavailable, True),
    ],
)
def test_status_mapping(status: int, kind: type[ProviderError], retryable: bool) -> None:
    error = error_for_status(status, "nope", provider="p1", retry_after=2.5)
    assert type(error) is kind
    assert (error.retryable, error.status, error.provider, error.retry_after) == (
        retryable,
        status,
        "p1",
        2.5,
    )
    assert error.message == f"p1: HTTP {status}: nope"


def test_retry_after_forms() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "7"}, now) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}, now) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, now) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 01 Jan 2025 12:00:30 GMT"}, now) == 30.0
    assert parse_retry_after({"retry-after": "Wed, 01 Jan 2025 11:00:00 GMT"}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({"retry-after": "nan"}, now) is None
    assert parse_retry_after({}, now) is None


def test_retry_policy_delays() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=3.0, max_retry_after=10.0)
    assert [policy.delay(n, None) for n in range(4)] == [1.0, 2.0, 3.0, None]
    assert policy.delay(0, 10.0) == 10.0
    assert policy.delay(0, 10.5) is None


def test_domain_error_for_the_wire() -> None:
    error = ProviderRateLimited("p1: HTTP 429: slow", provider="p1", status=429, retry_after=3.0)
    domain = error.to_domain_error()
    assert (domain.status, domain.code, domain.message) == (
        502,
        "upstream_unavailable",
        "p1: HTTP 429: slow",
    )
    assert domain.details == {"provider": "p1", "retryable": True, "status": 429, "retryAfter": 3.0}
