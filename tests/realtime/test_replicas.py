"""Scale-out: two real Gateway processes on one PostgreSQL and the real Redis. A chat turn queued
through one replica streams to the session group on the other; with both working, every queued
turn runs once, rate limits are one budget, and a due heartbeat starts once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.agents.agent_helpers import create_agent
from tests.conftest import IN_CI, PgDatabasePool, _pg_url
from tests.e2e.server import GatewayProcess
from tests.identity_helpers import setup_admin
from tests.realtime.hub_client import RawHub

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/0"
BEAT = {"enabled": True, "intervalMinutes": 5}
FAST = {
    "SOPHON_ARGON2_MEMORY_KIB": "64",
    "SOPHON_ARGON2_TIME_COST": "1",
    "SOPHON_ARGON2_PARALLELISM": "1",
    "SOPHON_LOGIN_SLOWDOWN_MS": "0",
    "SOPHON_REDIS_URL": REDIS_URL,
}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_url(pg_pool: PgDatabasePool) -> Iterator[str]:
    if not _redis_up():
        if IN_CI:
            raise RuntimeError("Redis is required under CI=true")
        pytest.skip("Redis at 127.0.0.1:6379 is unreachable")
    name = pg_pool.take()
    yield _pg_url(name)
    pg_pool.give_back(name)


async def _turn_events(hub: RawHub) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while not seen or seen[-1]["target"] not in ("TaskCompleted", "TaskFailed"):
        seen.append(await hub.next_matching(lambda m: m.get("type") == 1, within=30))
    return seen


async def test_a_turn_queued_on_one_replica_streams_to_the_other(
    tmp_path: Path, pg_url: str
) -> None:
    data = tmp_path / "home"  # one data dir: the replicas share their signing keys
    first = GatewayProcess(data, pg_url, **FAST)
    # the second runs no turns: whatever its client sees came from the first through Redis
    second = GatewayProcess(data, pg_url, **FAST, SOPHON_RUN_WORKERS="false")
    await asyncio.to_thread(first.start)
    try:
        await asyncio.to_thread(second.start)
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as api:
            admin = await setup_admin(api, data)
            opened = await api.post("/api/chat", headers=admin.headers, json={"content": "one"})
            assert opened.status_code == 202, opened.text
            session_id = opened.json()["sessionId"]
            done = await api.get(
                f"/api/tasks/{opened.json()['taskId']}",
                headers=admin.headers,
                params={"wait": 20},
            )
            assert done.json()["status"] == "Completed", done.text
            ws = second.url.replace("http://", "ws://")
            async with (
                await RawHub.open(f"{ws}/hubs/chat?access_token={admin.token}") as on_second,
                await RawHub.open(
                    f"{first.url.replace('http://', 'ws://')}/hubs/tasks",
                    headers=admin.headers,
                ) as on_first,
            ):
                assert (await on_second.invoke("JoinSession", session_id)).get("error") is None
                queued = await api.post(
                    "/api/chat",
                    headers=admin.headers,
                    json={"content": "across replicas", "sessionId": session_id},
                )
                assert queued.status_code == 202, queued.text
                task_id = queued.json()["taskId"]
                events = await _turn_events(on_second)
                names = [e["target"] for e in events]
                assert {"TaskStarted", "StreamChunk", "ReceiveMessage"} <= set(names)
                assert names[-1] == "TaskCompleted"
                assert {e["arguments"][0]["taskId"] for e in events} == {task_id}
                final = next(e for e in events if e["target"] == "ReceiveMessage")
                assert final["arguments"][0]["content"].endswith("You said: across replicas")
                lifecycle = await _turn_events(on_first)  # the tasks hub on the turn's replica
                assert lifecycle[-1]["arguments"][0]["taskId"] == task_id
    finally:
        second.kill()
        first.kill()


@contextlib.asynccontextmanager
async def _direct(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        yield conn
    finally:
        await conn.close()


async def _scheduler_ticks(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> int:
    health = await api.get(f"{url}/api/ops/health", headers=headers)
    assert health.status_code == 200, health.text
    return int(health.json()["scheduler"]["ticks"])


async def _after_a_full_tick(api: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
    """Returns once the replica has completed a scheduler round that began after this call."""
    seen = await _scheduler_ticks(api, url, headers)
    async with asyncio.timeout(30):
        while await _scheduler_ticks(api, url, headers) < seen + 2:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.05)


async def test_two_working_replicas_share_the_queue_the_limits_and_the_schedule(
    tmp_path: Path, pg_url: str
) -> None:
    data = tmp_path / "home"
    shared = {**FAST, "SOPHON_SCHEDULER_POLL_SECONDS": "0.05", "SOPHON_RATE_LIMIT_EXPENSIVE": "6"}
    replicas = [GatewayProcess(data, pg_url, **shared) for _ in range(2)]
    await asyncio.to_thread(replicas[0].start)
    try:
        await asyncio.to_thread(replicas[1].start)
        urls = [r.url for r in replicas]
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as api:
            admin = await setup_admin(api, data)
            h = admin.headers

            # due heartbeats start once each, though both schedulers see them due at once
            watchers = {
                (await create_agent(api, admin, f"watcher-{n}", heartbeat=BEAT))["id"]
                for n in range(12)
            }
            async with _direct(pg_url) as conn:  # the clock reaches their next beat
                await conn.execute(
                    "UPDATE agents SET heartbeat_next_at = now() - interval '1 second'"
                    " WHERE id = ANY($1::text[])",
                    list(watchers),
                )
            for url in urls:
                await _after_a_full_tick(api, url, h)
            runs: dict[str, str] = {}  # task id → agent: a run finishing between reads is in both
            for listing in ("/api/tasks/active", "/api/tasks/history"):
                page = await api.get(listing, headers=h, params={"limit": 200})
                runs |= {
                    t["id"]: t["agentId"] for t in page.json()["items"] if t["kind"] == "heartbeat"
                }
            assert sorted(runs.values()) == sorted(watchers)

            # every queued turn runs exactly once, whichever replica queued or runs it
            queued = [
                (await api.post(f"{urls[i % 2]}/api/chat", headers=h, json={"content": f"n{i}"}))
                for i in range(20)
            ]
            assert all(q.status_code == 202 for q in queued), [q.text for q in queued]
            for q in queued:
                done = await api.get(
                    f"/api/tasks/{q.json()['taskId']}", headers=h, params={"wait": 30}
                )
                assert done.json()["status"] == "Completed", done.text
            for i, q in enumerate(queued):
                listed = await api.get(
                    f"{urls[(i + 1) % 2]}/api/sessions/{q.json()['sessionId']}/messages",
                    headers=h,
                )
                roles = [m["role"] for m in listed.json()["items"]]
                assert sorted(roles) == ["assistant", "user"], listed.text

            # one rate-limit budget (6 a minute), spent through either replica
            remaining = []
            for i in range(6):
                verified = await api.get(f"{urls[i % 2]}/api/admin/audit/verify", headers=h)
                assert verified.status_code == 200, verified.text
                remaining.append(int(verified.headers["RateLimit-Remaining"]))
            assert remaining == [5, 4, 3, 2, 1, 0]
            for url in urls:
                refused = await api.get(f"{url}/api/admin/audit/verify", headers=h)
                assert refused.status_code == 429, refused.text
                assert refused.json()["error"]["code"] == "rate_limited"
    finally:
        for replica in reversed(replicas):
            replica.kill()
