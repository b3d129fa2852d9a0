"""Rate limits through the API: by category, per user, per API token and per IP; the exempt
routes; login throttling with its cool-down and audit; buckets shared by replicas through Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from sophon.app import create_app
from sophon.settings import Settings
from tests.audit.audit_helpers import audit_entries, written_by
from tests.helpers import assert_error
from tests.identity.ratelimit_helpers import (
    REDIS_URL,
    LimiterClock,
    caller_from,
    delete_redis_keys,
    loopback_alias,
    redis_unavailable,
    running,
)
from tests.identity_helpers import PASSWORD, Caller, add_user, login, setup_admin

TOKENS = "/api/auth/tokens"


@pytest.fixture
def limits() -> dict[str, Any]:
    """Settings a test changes by parametrizing this name."""
    return {}


@pytest.fixture
def settings(settings: Settings, limits: dict[str, Any]) -> Settings:
    return settings.model_copy(update=limits)


def limit_headers(response: httpx.Response) -> tuple[str, str]:
    """(RateLimit-Limit, RateLimit-Remaining); asserts RateLimit-Reset is there too."""
    assert int(response.headers["ratelimit-reset"]) >= 0, response.headers
    return response.headers["ratelimit-limit"], response.headers["ratelimit-remaining"]


def assert_limited(response: httpx.Response, category: str, limit: int) -> int:
    """429 `rate_limited` with its headers; returns Retry-After in seconds."""
    error = assert_error(response, 429, "rate_limited")
    assert error["details"] == {"category": category, "limit": limit}
    assert limit_headers(response) == (str(limit), "0")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    return retry_after


async def new_token(client: httpx.AsyncClient, caller: Caller, name: str) -> httpx.Response:
    return await client.post(TOKENS, headers=caller.headers, json={"name": name})


@pytest.mark.parametrize("limits", [{"rate_limit_write": 3}])
async def test_a_users_writes_over_the_limit_are_429(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    bob = await add_user(client, admin, "bob@example.com")  # one of the admin's three writes
    first = await new_token(client, admin, "a")
    assert first.status_code == 201
    assert limit_headers(first) == ("3", "1")
    second = await new_token(client, admin, "b")
    assert limit_headers(second) == ("3", "0")
    assert assert_limited(await new_token(client, admin, "c"), "write", 3) == 20  # one per 20 s

    listed = await client.get(TOKENS, headers=admin.headers)  # reads have a bucket of their own
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["items"]] == ["b", "a"]
    assert limit_headers(listed) == ("120", "119")
    assert (await new_token(client, bob, "bob's")).status_code == 201  # so has every user


@pytest.mark.parametrize("limits", [{"rate_limit_write": 2}])
async def test_an_api_token_has_a_bucket_of_its_own(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    secret = (await new_token(client, admin, "ci")).json()["token"]
    assert (await new_token(client, admin, "more")).status_code == 201
    assert_limited(await new_token(client, admin, "refused"), "write", 2)
    as_token = Caller(admin.email, secret, admin.user)
    made = await new_token(client, as_token, "by token")
    assert made.status_code == 201, made.text
    assert limit_headers(made) == ("2", "1")
    assert (await new_token(client, as_token, "by token 2")).status_code == 201
    assert_limited(await new_token(client, as_token, "by token 3"), "write", 2)


@pytest.mark.parametrize("limits", [{"rate_limit_read": 3, "rate_limit_write": 2}])
async def test_unauthenticated_calls_are_limited_per_ip(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for remaining in ("2", "1", "0"):
        answered = await client.get("/api/version")
        assert answered.status_code == 200
        assert limit_headers(answered) == ("3", remaining)
    assert_limited(await client.get("/api/version"), "read", 3)
    ghost = {"email": "ghost@example.com", "password": "not-it"}
    for _ in range(2):
        assert_error(await client.post("/api/auth/login", json=ghost), 401, "unauthenticated")
    assert_limited(await client.post("/api/auth/login", json=ghost), "write", 2)

    async with caller_from(app, "127.0.0.2") as elsewhere:
        assert (await elsewhere.get("/api/version")).status_code == 200
        refused = await elsewhere.post("/api/auth/login", json=ghost)
        assert_error(refused, 401, "unauthenticated")


@pytest.mark.parametrize("limits", [{"rate_limit_read": 1}])
async def test_health_and_metrics_are_never_limited(client: httpx.AsyncClient) -> None:
    for _ in range(4):
        for path in ("/api/health", "/metrics"):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert "ratelimit-limit" not in response.headers
    assert (await client.get("/api/version")).status_code == 200
    assert_limited(await client.get("/api/version"), "read", 1)


@pytest.mark.parametrize("limits", [{"rate_limit_expensive": 2}])
async def test_audit_export_is_expensive(client: httpx.AsyncClient, admin: Caller) -> None:
    for _ in range(2):
        exported = await client.get("/api/admin/audit/export", headers=admin.headers)
        assert exported.status_code == 200
    assert_limited(
        await client.get("/api/admin/audit/export", headers=admin.headers), "expensive", 2
    )
    verify = await client.get("/api/admin/audit/verify", headers=admin.headers)
    assert_limited(verify, "expensive", 2)
    listed = await client.get("/api/admin/audit", headers=admin.headers)
    assert listed.status_code == 200
    assert limit_headers(listed)[0] == "120"


@pytest.mark.parametrize("limits", [{"rate_limit_write": 5, "rate_limit_expensive": 5}])
async def test_responses_returned_whole_carry_the_headers_too(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    token = (await new_token(client, admin, "a")).json()["id"]
    revoked = await client.delete(f"{TOKENS}/{token}", headers=admin.headers)
    assert revoked.status_code == 204
    exported = await client.get("/api/admin/audit/export", headers=admin.headers)
    assert exported.status_code == 200
    assert limit_headers(revoked) == ("5", "3")
    assert limit_headers(exported) == ("5", "4")


@pytest.mark.parametrize("limits", [{"rate_limits_enabled": False, "rate_limit_write": 1}])
async def test_limits_can_be_switched_off(client: httpx.AsyncClient, admin: Caller) -> None:
    for name in ("a", "b", "c"):
        made = await new_token(client, admin, name)
        assert made.status_code == 201
        assert "ratelimit-limit" not in made.headers


LOCK_AFTER_3 = {"login_max_failures_per_account": 3, "login_failure_window_minutes": 15}


@pytest.mark.parametrize("limits", [LOCK_AFTER_3])
async def test_repeated_login_failures_lock_the_account_for_a_cool_down(
    limiter_clock: LimiterClock, client: httpx.AsyncClient, admin: Caller
) -> None:
    wrong = {"email": admin.email, "password": "wrong-guess"}
    right = {"email": admin.email, "password": PASSWORD}
    for _ in range(3):
        assert_error(await client.post("/api/auth/login", json=wrong), 401, "unauthenticated")
    locked = await client.post("/api/auth/login", json=right)  # even the right password
    assert_error(locked, 429, "rate_limited")
    assert locked.headers["retry-after"] == "300"  # 15 min / 3 failures: one attempt per 5 min
    other_account = await add_user(client, admin, "carol@example.com")  # the IP is not locked
    assert other_account.token

    entries = await audit_entries(client, admin, action="auth.login")
    refusal = written_by(entries, locked, "auth.login")
    assert refusal["outcome"] == "locked"
    assert refusal["actor"]["email"] == admin.email
    assert refusal["ip"] == "127.0.0.1"
    assert [e["outcome"] for e in entries if e["actor"]["email"] == admin.email][:4] == [
        "locked", "failure", "failure", "failure",
    ]  # fmt: skip

    limiter_clock.advance(299)
    assert_error(await client.post("/api/auth/login", json=right), 429, "rate_limited")
    limiter_clock.advance(1)
    assert (await client.post("/api/auth/login", json=right)).status_code == 200


@pytest.mark.parametrize("limits", [LOCK_AFTER_3])
async def test_a_successful_login_clears_the_account_failures(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    wrong = {"email": admin.email, "password": "wrong-guess"}
    for _ in range(2):
        assert_error(await client.post("/api/auth/login", json=wrong), 401, "unauthenticated")
    await login(client, admin.email)
    for _ in range(2):
        assert_error(await client.post("/api/auth/login", json=wrong), 401, "unauthenticated")
    await login(client, admin.email)


@pytest.mark.parametrize("limits", [{"login_max_failures_per_ip": 3}])
async def test_repeated_failures_from_one_ip_lock_that_ip(
    client: httpx.AsyncClient, admin: Caller, app: FastAPI
) -> None:
    for index in range(3):
        guess = {"email": f"nobody{index}@example.com", "password": "x"}
        assert_error(await client.post("/api/auth/login", json=guess), 401, "unauthenticated")
    right = {"email": admin.email, "password": PASSWORD}
    locked = await client.post("/api/auth/login", json=right)
    assert_error(locked, 429, "rate_limited")
    async with caller_from(app, "127.0.0.3") as elsewhere:
        assert (await elsewhere.post("/api/auth/login", json=right)).status_code == 200
    entries = await audit_entries(client, admin, outcome="locked")
    assert written_by(entries, locked, "auth.login")["actor"]["email"] == admin.email


@pytest.mark.parametrize(
    "limits", [{"login_slowdown_ms": 150, "login_max_failures_per_account": 10}]
)
async def test_repeated_failures_are_slowed_down(client: httpx.AsyncClient, admin: Caller) -> None:
    wrong = {"email": admin.email, "password": "wrong-guess"}
    for _ in range(2):
        assert_error(await client.post("/api/auth/login", json=wrong), 401, "unauthenticated")
    started = time.perf_counter()
    third = await client.post("/api/auth/login", json=wrong)
    elapsed = time.perf_counter() - started
    assert_error(third, 401, "unauthenticated")
    assert elapsed >= 0.15


@pytest.mark.parametrize("limits", [{"login_slowdown_ms": 1000, "login_max_failures_per_ip": 10}])
async def test_repeated_failures_from_one_ip_are_slowed_down(client: httpx.AsyncClient) -> None:
    for index in range(2):
        guess = {"email": f"sprayed{index}@example.com", "password": "x"}
        assert_error(await client.post("/api/auth/login", json=guess), 401, "unauthenticated")
    started = time.perf_counter()
    third = await client.post(
        "/api/auth/login", json={"email": "sprayed9@example.com", "password": "x"}
    )
    elapsed = time.perf_counter() - started
    assert_error(third, 401, "unauthenticated")
    assert elapsed >= 1.0


@pytest.fixture
def shared_redis() -> Iterator[str]:
    """A client address of this test's own; the Redis keys made for it go afterwards."""
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    ip = loopback_alias()
    yield ip
    delete_redis_keys(f"sophon:rl:ip:{ip}:*", f"sophon:rl:login:ip:{ip}")


SHARED = {"redis_url": REDIS_URL, "rate_limit_write": 4, "login_max_failures_per_account": 3}


@pytest.mark.parametrize("limits", [SHARED])
async def test_replicas_share_buckets_through_redis(
    shared_redis: str, settings: Settings, data_dir: Path
) -> None:
    stranger = f"{uuid.uuid4().hex}@example.com"
    mine = [f"sophon:rl:login:acct:{stranger}"]
    store = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with (
            running(create_app(settings), shared_redis) as one,
            running(create_app(settings), shared_redis) as two,
        ):
            admin = await setup_admin(one, data_dir)
            mine.append(f"sophon:rl:usr:{admin.id}:*")
            replicas = [one, two, one, two]
            remaining = [
                (await new_token(r, admin, "t")).headers["ratelimit-remaining"] for r in replicas
            ]
            assert remaining == ["3", "2", "1", "0"]
            assert_limited(await new_token(one, admin, "over"), "write", 4)
            assert_limited(await new_token(two, admin, "over"), "write", 4)
            assert await store.exists(f"sophon:rl:usr:{admin.id}:write") == 1

            guess = {"email": stranger, "password": "wrong"}
            for replica in (one, two, one):
                refused = await replica.post("/api/auth/login", json=guess)
                assert_error(refused, 401, "unauthenticated")
            assert_error(await two.post("/api/auth/login", json=guess), 429, "rate_limited")
    finally:
        for pattern in mine:
            async for key in store.scan_iter(match=pattern):
                await store.delete(key)
        await store.aclose()


@pytest.mark.parametrize("limits", [{"redis_url": "redis://127.0.0.1:1"}])  # nothing listens
async def test_without_redis_limits_fail_open_and_sign_ins_fail_closed(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    made = await new_token(client, admin, "still works")
    assert made.status_code == 201, made.text
    assert limit_headers(made)[0] == "60"  # this replica's own buckets meanwhile
    refused = await client.post(
        "/api/auth/login", json={"email": admin.email, "password": PASSWORD}
    )
    assert_error(refused, 503, "service_unavailable")
    assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("limits", [LOCK_AFTER_3])
async def test_a_429_carries_one_set_of_rate_limit_headers(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    """The public login route is also limited per IP: only the refusing limiter's set leaves."""
    wrong = {"email": admin.email, "password": "wrong-guess"}
    for _ in range(3):
        assert_error(await client.post("/api/auth/login", json=wrong), 401, "unauthenticated")
    locked = await client.post("/api/auth/login", json=wrong)
    assert_error(locked, 429, "rate_limited")
    for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"):
        assert len(locked.headers.get_list(name)) == 1, (name, locked.headers)
    assert limit_headers(locked) == ("3", "0")
    assert locked.headers["retry-after"] == "300"
