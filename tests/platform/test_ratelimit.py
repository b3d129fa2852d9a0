"""The rate limiter engine, on the in-process backend and on a real Redis at 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from sophon.platform.errors import ServiceUnavailable
from sophon.platform.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RateLimiter,
    RateLimitPolicy,
    build_rate_limiter,
)
from sophon.platform.ratelimit_redis import RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379"
IN_CI = os.environ.get("CI", "").lower() == "true"
PER_MINUTE_60 = RateLimitPolicy.per_minute(60)


class FakeClock:
    """Unix seconds that move only when the test says. It starts ahead of the real clock (in
    2096): Redis expires a bucket's key when its own clock reaches the TAT, so no key of a bucket
    this clock still counts can expire however long the test takes."""

    def __init__(self, start: float = 4_000_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def redis_unavailable() -> str | None:
    """Why Redis can't be used here, or None. Under CI it must be reachable."""
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


@pytest.fixture
def redis_prefix(redis_unavailable: str | None) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    if redis_unavailable:
        pytest.skip(redis_unavailable)
    prefix = f"sophon:test:rl:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[RateLimiter]:
    """A limiter on the backend under test, reading the test's clock."""
    made: RateLimiter
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        # a test process stalled past the default 1 s timeout must not look like an outage
        made = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock, timeout=30.0)
    else:
        made = MemoryRateLimiter(clock)
    yield made
    await made.aclose()


async def _hits(limiter: RateLimiter, key: str, policy: RateLimitPolicy, n: int) -> list[Decision]:
    return [await limiter.hit(key, policy) for _ in range(n)]


@pytest.mark.parametrize(
    ("limit", "window"),
    [(120, 60.0), (60, 60.0), (30, 60.0), (10, 60.0), (7, 900.0), (9, 60.0), (200, 1.0)],
)
async def test_exactly_limit_hits_pass_then_one_per_interval(
    limiter: RateLimiter, clock: FakeClock, limit: int, window: float
) -> None:
    policy = RateLimitPolicy(limit, window)
    interval = window / limit

    passed = await _hits(limiter, "user:usr_1:read", policy, limit)
    assert all(d.allowed for d in passed)
    assert [d.remaining for d in passed] == list(range(limit - 1, -1, -1))

    refused = await limiter.hit("user:usr_1:read", policy)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after == pytest.approx(interval, abs=1e-4)  # µs rounding
    assert refused.reset_after == pytest.approx(window)
    assert refused.headers() == {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(round(window)),
        "Retry-After": str(max(1, math.ceil(interval))),
    }

    clock.advance(interval * 0.99)
    assert not (await limiter.hit("user:usr_1:read", policy)).allowed
    clock.advance(interval * 0.01)
    again = await limiter.hit("user:usr_1:read", policy)
    assert again.allowed
    assert again.remaining == 0
    assert not (await limiter.hit("user:usr_1:read", policy)).allowed

    clock.advance(window)
    assert (await limiter.peek("user:usr_1:read", policy)).remaining == limit


async def test_header_values_are_whole_seconds_rounded_up(
    limiter: RateLimiter, clock: FakeClock
) -> None:
    policy = RateLimitPolicy(7, 900.0)  # one unit: 128.57 s

    allowed = await limiter.hit("login:acct:a@example.com", policy)
    headers = allowed.headers()

    assert headers == {"RateLimit-Limit": "7", "RateLimit-Remaining": "6", "RateLimit-Reset": "129"}
    assert all(isinstance(v, str) and v.isdigit() for v in headers.values())

    await _hits(limiter, "login:acct:a@example.com", policy, 6)
    clock.advance(100.25)
    refused = (await limiter.hit("login:acct:a@example.com", policy)).headers()
    assert refused["Retry-After"] == "29"  # 128.57 - 100.25 = 28.32
    assert refused["RateLimit-Reset"] == "800"  # 900 - 100.25 = 799.75
    assert all(isinstance(v, str) and v.isdigit() for v in refused.values())


async def test_user_token_and_ip_buckets_are_separate(limiter: RateLimiter) -> None:
    await _hits(limiter, "user:usr_1:write", PER_MINUTE_60, 60)

    assert not (await limiter.hit("user:usr_1:write", PER_MINUTE_60)).allowed
    for other in ("token:tok_1:write", "ip:127.0.0.1:write", "user:usr_2:write", "user:usr_1:read"):
        decision = await limiter.hit(other, PER_MINUTE_60)
        assert decision.allowed, other
        assert decision.remaining == 59, other


async def test_cost_consumes_several_units(limiter: RateLimiter) -> None:
    policy = RateLimitPolicy.per_minute(10)  # one unit: 6 s

    assert (await limiter.hit("user:usr_1:expensive", policy, cost=4)).remaining == 6
    assert (await limiter.hit("user:usr_1:expensive", policy, cost=4)).remaining == 2
    refused = await limiter.hit("user:usr_1:expensive", policy, cost=4)
    assert not refused.allowed
    assert refused.remaining == 2  # refused hits consume nothing
    assert refused.retry_after == pytest.approx(12.0)
    assert refused.headers()["Retry-After"] == "12"
    last = await limiter.hit("user:usr_1:expensive", policy, cost=2)
    assert (last.allowed, last.remaining) == (True, 0)

    for bad_cost in (0, 11):
        with pytest.raises(ValueError, match="cost"):
            await limiter.hit("user:usr_1:expensive", policy, cost=bad_cost)


async def test_login_throttling_peek_and_reset(limiter: RateLimiter) -> None:
    policy = RateLimitPolicy(3, 900.0, fail_closed=True)
    key = "login:acct:a@example.com"

    fresh = await limiter.peek(key, policy)
    assert (fresh.allowed, fresh.remaining, fresh.retry_after) == (True, 3, None)
    assert (await limiter.peek(key, policy)).remaining == 3  # peeking consumes nothing
    await _hits(limiter, key, policy, 3)
    locked = await limiter.peek(key, policy)
    assert (locked.allowed, locked.remaining) == (False, 0)
    assert locked.headers()["Retry-After"] == "300"

    await limiter.reset(key)
    assert (await limiter.peek(key, policy)).remaining == 3
    await limiter.reset("login:acct:never-seen@example.com")  # no bucket: nothing to do


async def test_replicas_on_one_prefix_share_a_bucket(redis_prefix: str, clock: FakeClock) -> None:
    replica_a = RedisRateLimiter(REDIS_URL, prefix=redis_prefix, clock=clock)
    replica_b = RedisRateLimiter(REDIS_URL, prefix=redis_prefix, clock=clock)
    elsewhere = RedisRateLimiter(REDIS_URL, prefix=redis_prefix + "other:", clock=clock)
    try:
        decisions = await _hits(replica_a, "user:usr_1:chat", PER_MINUTE_60, 30)
        decisions += await _hits(replica_b, "user:usr_1:chat", PER_MINUTE_60, 30)
        assert all(d.allowed for d in decisions)
        assert decisions[-1].remaining == 0

        assert not (await replica_a.hit("user:usr_1:chat", PER_MINUTE_60)).allowed
        assert not (await replica_b.hit("user:usr_1:chat", PER_MINUTE_60)).allowed
        assert (await elsewhere.hit("user:usr_1:chat", PER_MINUTE_60)).remaining == 59

        await replica_a.reset("user:usr_1:chat")
        assert (await replica_b.peek("user:usr_1:chat", PER_MINUTE_60)).remaining == 60
    finally:
        for limiter in (replica_a, replica_b, elsewhere):
            await limiter.aclose()


async def test_redis_server_clock_is_the_default(redis_prefix: str) -> None:
    policy = RateLimitPolicy(60, 3600.0)  # one unit a minute: real time passing can't refill
    replicas = [RedisRateLimiter(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    try:
        for i in range(60):
            assert (await replicas[i % 2].hit("user:usr_1:write", policy)).allowed
        refused = await replicas[0].hit("user:usr_1:write", policy)
        assert not refused.allowed
        assert refused.retry_after is not None
        assert 50.0 < refused.retry_after <= 60.0
    finally:
        for limiter in replicas:
            await limiter.aclose()


async def test_replicas_may_mix_server_time_and_a_synced_clock(redis_prefix: str) -> None:
    policy = RateLimitPolicy(60, 3600.0)  # one unit a minute
    own_clock = RedisRateLimiter(REDIS_URL, prefix=redis_prefix, clock=time.time)
    server_time = RedisRateLimiter(REDIS_URL, prefix=redis_prefix)  # Redis on this host
    try:
        await _hits(own_clock, "user:usr_1:write", policy, 59)
        last = await server_time.hit("user:usr_1:write", policy)
        assert (last.allowed, last.remaining) == (True, 0)
        assert not (await own_clock.hit("user:usr_1:write", policy)).allowed
    finally:
        await own_clock.aclose()
        await server_time.aclose()


async def test_redis_keys_carry_the_prefix_and_expire(redis_prefix: str, clock: FakeClock) -> None:
    limiter = RedisRateLimiter(REDIS_URL, prefix=redis_prefix, clock=clock)
    try:
        await _hits(limiter, "ip:127.0.0.1:read", RateLimitPolicy.per_minute(120), 3)
    finally:
        await limiter.aclose()

    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert list(client.scan_iter(match=f"{redis_prefix}*")) == [
            f"{redis_prefix}ip:127.0.0.1:read".encode()
        ]
        # at the bucket's TAT (3 x 0.5 s on), on the limiter's clock: the moment it is full again
        expires_ms = client.pexpiretime(f"{redis_prefix}ip:127.0.0.1:read")
        assert expires_ms == round((clock.now + 1.5) * 1000)
    finally:
        client.close()


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


FAIL_CLOSED = RateLimitPolicy(20, 900.0, fail_closed=True)


async def test_redis_down_fails_open_to_local_buckets_or_closed_on_request(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{_free_loopback_port()}", clock=clock)
    policy = RateLimitPolicy.per_minute(2)
    caplog.set_level(logging.INFO, logger="sophon.ratelimit")
    try:
        decisions = await _hits(limiter, "user:usr_1:write", policy, 3)
        assert [d.allowed for d in decisions] == [True, True, False]  # still limited, locally

        with pytest.raises(ServiceUnavailable) as refused:
            await limiter.hit("login:ip:127.0.0.1", FAIL_CLOSED)
        assert refused.value.headers["Retry-After"] == "5"

        clock.advance(6)  # past the retry interval: Redis is tried again, and fails again
        with pytest.raises(ServiceUnavailable):
            await limiter.peek("login:ip:127.0.0.1", FAIL_CLOSED)
        await limiter.reset("user:usr_1:write")
        assert (await limiter.hit("user:usr_1:write", policy)).allowed
    finally:
        await limiter.aclose()
    # one warning per outage, not one per request or retry
    assert [r.levelname for r in caplog.records] == ["WARNING"]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _forward_to_redis(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", 6379)
    await asyncio.gather(_pipe(reader, redis_writer), _pipe(redis_reader, writer))


async def test_buckets_are_shared_again_once_redis_is_back(
    redis_prefix: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_loopback_port()  # a loopback proxy to Redis will appear here
    replica = RedisRateLimiter(f"redis://127.0.0.1:{port}", prefix=redis_prefix, clock=clock)
    other = RedisRateLimiter(REDIS_URL, prefix=redis_prefix, clock=clock)
    policy = RateLimitPolicy(3, 3600.0)
    caplog.set_level(logging.INFO, logger="sophon.ratelimit")
    proxy = None
    try:
        assert (await replica.hit("user:usr_1:write", policy)).remaining == 2  # local bucket
        proxy = await asyncio.start_server(_forward_to_redis, "127.0.0.1", port)
        assert (await replica.hit("user:usr_1:write", policy)).remaining == 1  # not retried yet
        assert (await other.peek("user:usr_1:write", policy)).remaining == 3

        clock.advance(5)
        assert (await replica.hit("user:usr_1:write", policy)).remaining == 2  # shared bucket
        assert (await other.peek("user:usr_1:write", policy)).remaining == 2
    finally:
        await replica.aclose()
        await other.aclose()
        if proxy is not None:
            proxy.close()
            await proxy.wait_closed()
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


async def test_memory_evicts_expired_buckets_when_full(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock, max_keys=50)
    for i in range(49):
        await limiter.hit(f"ip:10.0.0.{i}:read", PER_MINUTE_60)
    assert len(limiter) == 49

    clock.advance(1.0)  # each of those buckets is full again
    await limiter.hit("ip:10.0.1.1:read", PER_MINUTE_60)

    assert len(limiter) == 1
    assert (await limiter.peek("ip:10.0.1.1:read", PER_MINUTE_60)).remaining == 59


async def test_memory_sweeps_expired_buckets_periodically(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock, sweep_interval=60.0)
    for i in range(10):
        await limiter.hit(f"user:usr_{i}:read", RateLimitPolicy(5, 10.0))
    clock.advance(30.0)
    await limiter.hit("user:usr_x:read", RateLimitPolicy(5, 10.0))
    assert len(limiter) == 11  # expired, but not swept yet

    clock.advance(30.0)
    await limiter.peek("user:usr_y:read", RateLimitPolicy(5, 10.0))
    assert len(limiter) == 0


async def test_memory_stays_bounded_under_a_flood_of_live_keys(clock: FakeClock) -> None:
    limiter = MemoryRateLimiter(clock, max_keys=100)
    for i in range(1000):
        if i % 50 == 0:
            await limiter.hit("ip:10.9.9.9:read", PER_MINUTE_60)
        await limiter.hit(f"ip:10.0.{i // 256}.{i % 256}:read", PER_MINUTE_60)
        assert len(limiter) <= 100

    # the most recently used buckets survive; the least recently used were forgotten
    assert (await limiter.peek("ip:10.9.9.9:read", PER_MINUTE_60)).remaining == 40
    assert (await limiter.peek("ip:10.0.3.231:read", PER_MINUTE_60)).remaining == 59
    assert (await limiter.peek("ip:10.0.0.0:read", PER_MINUTE_60)).remaining == 60


def test_policies_are_validated() -> None:
    for limit, window in ((0, 60.0), (10, 0.0), (10, -1.0)):
        with pytest.raises(ValueError, match="policy"):
            RateLimitPolicy(limit, window)
    assert RateLimitPolicy.per_minute(30) == RateLimitPolicy(30, 60.0)


async def test_factory_picks_the_backend() -> None:
    memory = build_rate_limiter(None)
    redis_backed = build_rate_limiter("redis://127.0.0.1:6379/0", prefix="sophon:x:")
    try:
        assert isinstance(memory, MemoryRateLimiter)
        assert isinstance(redis_backed, RedisRateLimiter)  # connects lazily
    finally:
        await memory.aclose()
        await redis_backed.aclose()
