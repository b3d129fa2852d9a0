"""Request rate limits by category, per principal or per IP, applied by the route's access
declaration (the one place): 429 `rate_limited` with `Retry-After` and `RateLimit-*` headers."""

from __future__ import annotations

from enum import StrEnum

from fastapi import Request

from sophon.platform.errors import RateLimited
from sophon.platform.middleware import RESPONSE_HEADERS_KEY
from sophon.platform.ratelimit import RateLimiter, RateLimitPolicy
from sophon.settings import Settings

MINUTE = 60.0


class RateCategory(StrEnum):
    READ = "read"
    WRITE = "write"
    APPROVAL = "approval"
    EXPENSIVE = "expensive"
    CHAT = "chat"


def policy_for(settings: Settings, category: RateCategory) -> RateLimitPolicy:
    per_minute = getattr(settings, f"rate_limit_{category.value}")
    return RateLimitPolicy(limit=per_minute, window_seconds=MINUTE)


def category_of(request: Request) -> RateCategory | None:
    """The route's declared category; `None` means exempt. Undeclared: by method."""
    access = getattr(request.scope.get("route"), "access", None)
    declared = getattr(access, "rate", "auto")
    if declared != "auto":
        return None if declared is None else RateCategory(declared)
    return RateCategory.READ if request.method in ("GET", "HEAD") else RateCategory.WRITE


async def enforce(request: Request, settings: Settings, limiter: RateLimiter, who: str) -> None:
    if not settings.rate_limits_enabled:
        return
    category = category_of(request)
    if category is None:
        return
    decision = await limiter.hit(f"{who}:{category.value}", policy_for(settings, category))
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit for {category.value} requests exceeded; retry later.",
            {"category": category.value, "limit": decision.limit},
            headers=decision.headers(),
        )
    # stamped on whatever response leaves, also ones a handler builds itself (204, streams)
    request.scope[RESPONSE_HEADERS_KEY].update(decision.headers())


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_by_ip(request: Request) -> None:
    """For public routes: unauthenticated callers are limited per IP."""
    gateway = request.app.state.gateway
    await enforce(request, gateway.settings, gateway.limiter, f"ip:{client_ip(request)}")
