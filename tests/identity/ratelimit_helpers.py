"""Gateways for the rate-limit tests: a limiter clock the test moves, callers from a chosen client
address, and Redis (the real one on 127.0.0.1) with clean-up of the keys a test made."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from sophon import gateway as gateway_module
from sophon.platform.ratelimit import DEFAULT_PREFIX, RateLimiter, build_rate_limiter

REDIS_URL = "redis://127.0.0.1:6379"
IN_CI = os.environ.get("CI", "").lower() == "true"


class LimiterClock:
    """Monotonic seconds for the Gateway's rate limiter, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def install_limiter_clock(monkeypatch: pytest.MonkeyPatch, clock: LimiterClock) -> None:
    """Gateways built from now on read `clock` in their rate limiter (its `clock` parameter)."""

    def build(redis_url: str | None, prefix: str = DEFAULT_PREFIX) -> RateLimiter:
        return build_rate_limiter(redis_url, prefix, clock=clock)

    monkeypatch.setattr(gateway_module, "build_rate_limiter", build)


def loopback_alias() -> str:
    """A client address no other test uses, so its per-IP buckets are this test's own."""
    return "127." + ".".join(str(secrets.randbelow(250) + 1) for _ in range(3))


def caller_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    """An in-process client whose requests come from `ip` (a running app's second caller)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def running(app: FastAPI, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """Starts the app's lifespan; gives a client calling it from `ip`."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=(ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def redis_unavailable() -> str | None:
    """Why the real Redis can't be used, or None. Under CI it must be reachable."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        if IN_CI:
            raise RuntimeError(f"Redis is required under CI=true: {exc}") from exc
        return f"Redis at {REDIS_URL} is unreachable ({exc})"
    finally:
        client.close()
    return None


def delete_redis_keys(*patterns: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        for pattern in patterns:
            keys = list(client.scan_iter(match=pattern))
            if keys:
                client.delete(*keys)
    finally:
        client.close()
