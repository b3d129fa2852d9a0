"""The Redis backend of the rate limiter: one atomic Lua script per hit, buckets shared by every
Gateway replica using the same key prefix (see `ratelimit` for the algorithm)."""

from __future__ import annotations

import logging
import time
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sophon.platform.errors import ServiceUnavailable
from sophon.platform.ratelimit import (
    DEFAULT_PREFIX,
    Clock,
    Decision,
    MemoryRateLimiter,
    RateLimitPolicy,
    _decision,
    _micros,
    _whole_seconds,
)

log = logging.getLogger("sophon.ratelimit")


# KEYS[1] bucket; ARGV: now in µs ('' = Redis TIME), interval µs, window µs, cost, consume (1/0).
# Returns {allowed (1/0), now, tat after the call}; the TAT is stored with '%.17g' so every digit
# of the integer survives whatever number formatting the server's Lua uses. The key expires at
# its TAT as a moment on Redis's clock (PXAT), i.e. once the bucket is full again on the timeline
# its TAT was computed on. A TTL from the call would count Redis's time instead, which an injected
# clock need not follow: a test's stands still, and its buckets would vanish mid-test.
_HIT_SCRIPT = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if tat == nil then tat = now end
local new_tat = math.max(tat, now) + cost * interval
local allowed = 0
if new_tat - now <= window then
  allowed = 1
  if ARGV[5] == '1' then
    tat = new_tat
    local expires_at = string.format('%.17g', math.ceil(new_tat / 1000))
    redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PXAT', expires_at)
  end
end
return {allowed, now, tat}
"""


class RedisRateLimiter:
    """Buckets in Redis under `prefix`, shared by every Gateway using the same prefix. One
    atomic Lua script per hit; each key expires once its bucket is full again."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Clock | None = None,
        timeout: float = 1.0,
        retry_interval: float = 5.0,
    ) -> None:
        self._redis: Redis = Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        self._script = self._redis.register_script(_HIT_SCRIPT)
        self._prefix = prefix
        self._clock = clock
        self._local_clock: Clock = clock or time.monotonic
        self._fallback = MemoryRateLimiter(self._local_clock)
        self._retry_interval = retry_interval
        self._down_until: float | None = None

    async def hit(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> Decision:
        return await self._apply(key, policy, cost, consume=True)

    async def peek(self, key: str, policy: RateLimitPolicy, cost: int = 1) -> Decision:
        return await self._apply(key, policy, cost, consume=False)

    async def reset(self, key: str) -> None:
        await self._fallback.reset(key)
        if self._skipping():
            return
        try:
            await self._redis.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            self._went_down(exc)
        else:
            self._came_up()

    async def aclose(self) -> None:
        await self._fallback.aclose()
        await self._redis.aclose()

    async def _apply(
        self, key: str, policy: RateLimitPolicy, cost: int, *, consume: bool
    ) -> Decision:
        policy.check_cost(cost)
        if not self._skipping():
            now = "" if self._clock is None else str(_micros(self._clock()))
            args: list[int | str] = [
                now,
                policy.interval_us,
                policy.window_us,
                cost,
                1 if consume else 0,
            ]
            try:
                reply = await self._script(keys=[self._prefix + key], args=args)
            except (RedisError, OSError) as exc:
                self._went_down(exc)
            else:
                self._came_up()
                allowed, server_now, tat = cast(list[int], reply)
                return _decision(policy, cost, server_now, tat, allowed == 1)
        if policy.fail_closed:
            raise ServiceUnavailable(
                "Rate limiting is temporarily unavailable; try again shortly.",
                headers={"Retry-After": str(max(1, _whole_seconds(self._retry_interval)))},
            )
        return self._fallback.apply(key, policy, cost, consume=consume)

    def _skipping(self) -> bool:
        return self._down_until is not None and self._local_clock() < self._down_until

    def _went_down(self, exc: Exception) -> None:
        if self._down_until is None:
            log.warning(
                "Redis is unavailable for rate limits (%s); fail-open policies use this "
                "replica's own buckets, fail-closed policies refuse, until it is back",
                exc,
            )
        self._down_until = self._local_clock() + self._retry_interval

    def _came_up(self) -> None:
        if self._down_until is not None:
            log.info("Redis is back for rate limits; buckets are shared again")
            self._down_until = None
