"""Two Gateway replicas sharing the database, the data dir and Redis: a skill installed,
switched or uninstalled on one is in (or out of) the other's tool catalog too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sophon.app import create_app
from sophon.settings import Settings
from tests.identity.ratelimit_helpers import REDIS_URL, redis_unavailable, running
from tests.identity_helpers import setup_admin
from tests.skills.skill_helpers import SKILLS, install, package, zip_of


async def tool_names(client: httpx.AsyncClient) -> set[str]:
    items = (await client.get("/api/tools", params={"limit": 200})).json()["items"]
    return {t["name"] for t in items}


async def eventually(client: httpx.AsyncClient, present: bool, name: str) -> None:
    for _ in range(100):
        if (name in await tool_names(client)) is present:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} {'never appeared' if present else 'stayed'} on the replica")


async def test_replicas_follow_each_others_skill_changes(
    settings: Settings, data_dir: Path
) -> None:
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "rate_limits_enabled": False})
    async with (
        running(create_app(shared), "127.0.0.1") as one,
        running(create_app(shared), "127.0.0.1") as two,
    ):
        admin = await setup_admin(one, data_dir)
        await install(one, admin, zip_of(package("replicated")))
        await eventually(two, True, "replicated.run")
        assert (await one.delete(f"{SKILLS}/replicated", headers=admin.headers)).status_code == 204
        await eventually(two, False, "replicated.run")
