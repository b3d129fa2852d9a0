"""Scale-out: two real Gateway processes on one PostgreSQL and the real Redis. A client on each;
a chat turn queued through one replica streams to the session group on the other."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, PgDatabasePool, _pg_url
from tests.e2e.server import GatewayProcess
from tests.identity_helpers import setup_admin
from tests.realtime.hub_client import RawHub

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/0"
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
