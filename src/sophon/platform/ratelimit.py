"""Rate limiting by named policy (`limit` units per `window_seconds`) with GCRA, kept in process
(`MemoryRateLimiter`) or shared by every Gateway replica through Redis (`RedisRateLimiter`).

Algorithm (both backends): the Generic Cell Rate Algorithm. A bucket is one number, its
"theoretical arrival time" (TAT); every unit costs `window / limit` seconds of it. A hit is allowed
when the TAT it would produce lies at most one window ahead of now, so a full bucket takes exactly
`limit` hits at once, then refills one unit every `window / limit` seconds (60/min: one per
second) and is full again `window` seconds after the last hit. O(1) time and one number per key;
refused hits consume nothing. One key must always be used with the same policy. All arithmetic is
in whole microseconds (exact in Lua's doubles until the year 2255), so both backends decide
identically with no float rounding; a unit's interval is rounded down to the microsecond.

Time: `MemoryRateLimiter` reads an injectable clock (default `time.monotonic`). `RedisRateLimiter`
by default reads Redis's own `TIME` inside the script, so replicas need no clock sync; an injected
clock (tests) is passed into the script instead. It counts Unix seconds, as `TIME` does: a key
expires at its TAT on Redis's clock, so a test clock that stands still starts ahead of the real one.

Redis unavailable: a policy fails open by default (the replica falls back to its own in-process
buckets and logs one warning per outage); a policy with `fail_closed=True` (login throttling)
raises `ServiceUnavailable` instead. After a failure Redis is not retried for `retry_interval`
seconds, so an outage adds no timeout to every request.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Protocol

Clock = Callable[[], float]
DEFAULT_PREFIX = "sophon:rl:"
MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """At most `limit` units per `window_seconds`; `fail_closed` refuses when Redis is down."""

    limit: int
    window_seconds: float
    _: KW_ONLY
    fail_closed: bool = False

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a rate limit policy needs limit >= 1")
        if not self.window_seconds * MICROS >= self.limit:
            raise ValueError("a rate limit policy needs window_seconds >= limit microseconds")

    @classmethod
    def per_minute(cls, limit: int, *, fail_closed: bool = False) -> RateLimitPolicy:
        return cls(limit, 60.0, fail_closed=fail_closed)

    @property
    def window_us(self) -> int:
        return round(self.window_seconds * MICROS)

    @property
    def interval_us(self) -> int:
        """Microseconds one unit takes to refill."""
        return self.window_us // self.limit

    def check_cost(self, cost: int) -> None:
        if not 1 <= cost <= self.limit:
            raise ValueError(f"cost must be between 1 and the policy's limit ({self.limit})")


@dataclass(frozen=True, slots=True)
class Decision:
    """Outcome of a hit (or of a peek: what a hit would do). `remaining` counts the units left
    after this call; `reset_after` is the time until the bucket is full again; `retry_after`
    (only when refused) the time until a hit of the same cost would be allowed."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float | None = None

    def headers(self) -> dict[str, str]:
        """`RateLimit-Limit/-Remaining/-Reset` (whole seconds, rounded up) and, when refused,
        `Retry-After` (at least 1)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(_whole_seconds(self.reset_after)),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, _whole_seconds(self.retry_after)))
        return headers


class RateLimiter(Protocol):
    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> Decision:
        """Consumes `cost` units from the bucket `key` if they are available."""
        ...

    async def peek(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> Decision:
        """What `hit` would decide, consuming nothing; `remaining` is what is available now."""
        ...

    async def reset(self, key: str) -> None:
        """Refills the bucket `key` (e.g. after a successful login)."""
        ...

    async def aclose(self) -> None: ...


def _whole_seconds(seconds: float) -> int:
    return max(0, math.ceil(seconds))


def _micros(seconds: float) -> int:
    return round(seconds * MICROS)


def _advance(tat: int, now: int, policy: RateLimitPolicy, cost: int) -> tuple[int, bool]:
    """The TAT (µs) a hit would produce, and whether it is allowed. The Lua script does the
    same arithmetic."""
    new_tat = max(tat, now) + cost * policy.interval_us
    return new_tat, new_tat - now <= policy.window_us


def _decision(policy: RateLimitPolicy, cost: int, now: int, tat: int, allowed: bool) -> Decision:
    """Builds the decision from the bucket's TAT (µs) after the call."""
    used = max(tat - now, 0)
    available = (policy.window_us - used) // policy.interval_us
    overdraft = used + cost * policy.interval_us - policy.window_us
    return Decision(
        allowed=allowed,
        limit=policy.limit,
        remaining=min(max(available, 0), policy.limit),
        reset_after=used / MICROS,
        retry_after=None if allowed else max(overdraft, 0) / MICROS,
    )


class MemoryRateLimiter:
    """Buckets in this process. Memory is bounded: buckets that are full again (expired) are
    swept every `sweep_interval` seconds and whenever `max_keys` is reached; if still too many
    are live, the least recently used are forgotten (those callers get a fresh bucket)."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        *,
        max_keys: int = 100_000,
        sweep_interval: float = 60.0,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be >= 1")
        self._clock = clock
        self._max_keys = max_keys
        self._low_water = max(1, max_keys * 9 // 10)  # eviction makes room for a batch of keys
        self._sweep_interval = _micros(sweep_interval)
        self._tats: OrderedDict[str, int] = OrderedDict()
        self._last_sweep = _micros(clock())

    def __len__(self) -> int:
        """How many buckets are held."""
        return len(self._tats)

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> Decision:
        return self.apply(key, policy, cost, consume=True)

    async def peek(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> Decision:
        return self.apply(key, policy, cost, consume=False)

    async def reset(self, key: str) -> None:
        self._tats.pop(key, None)

    async def aclose(self) -> None:
        self._tats.clear()

    def apply(self, key: str, policy: RateLimitPolicy, cost: int, *, consume: bool) -> Decision:
        """The synchronous core of `hit` (`consume=True`) and `peek`."""
        policy.check_cost(cost)
        now = _micros(self._clock())
        if now - self._last_sweep >= self._sweep_interval:
            self._sweep(now)
        tat = self._tats.get(key, now)
        new_tat, allowed = _advance(tat, now, policy, cost)
        if allowed and consume:
            tat = new_tat
            self._store(key, tat, now)
        return _decision(policy, cost, now, tat, allowed)

    def _store(self, key: str, tat: int, now: int) -> None:
        self._tats[key] = tat
        self._tats.move_to_end(key)
        if len(self._tats) >= self._max_keys:
            self._sweep(now)

    def _sweep(self, now: int) -> None:
        self._last_sweep = now
        for key in [key for key, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
        while len(self._tats) > self._low_water:
            self._tats.popitem(last=False)


def build_rate_limiter(
    redis_url: str | None, prefix: str = DEFAULT_PREFIX, *, clock: Clock | None = None
) -> RateLimiter:
    """Redis-backed when a URL is configured (connects lazily), else in-process."""
    if redis_url:
        from sophon.platform.ratelimit_redis import RedisRateLimiter  # redis loads only if used

        return RedisRateLimiter(redis_url, prefix=prefix, clock=clock)
    return MemoryRateLimiter(clock or time.monotonic)
