"""Start-up in two steps: the Gateway answers once its schema and first-start seeding are ready;
the MCP links, the skills' tools, the agent runtime and webhook deliveries start just after
(`app.state.started`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from sophon.skills import bootstrap as skills_bootstrap
from tests.identity_helpers import setup_admin


async def test_the_background_parts_are_up_once_started_is_done(
    app: FastAPI, data_dir: Path
) -> None:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/api/health")).status_code == 200
            await app.state.started
            admin = await setup_admin(http, data_dir)
            health = (await http.get("/api/ops/health", headers=admin.headers)).json()
            assert health["startup"] == {"status": "ok", "error": None}
            assert app.state.runtime is not None
            assert app.state.webhooks is not None
            assert app.state.gateway.tools.get("skill.read") is not None


async def test_deep_health_says_starting_until_the_background_parts_are_up(
    app: FastAPI, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    load = skills_bootstrap.load

    async def held(*args: Any, **kwargs: Any) -> None:
        await release.wait()
        await load(*args, **kwargs)

    monkeypatch.setattr(skills_bootstrap, "load", held)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            admin = await setup_admin(http, data_dir)
            health = (await http.get("/api/ops/health", headers=admin.headers)).json()
            assert health["status"] == "degraded"
            assert health["startup"] == {"status": "starting", "error": None}
            release.set()
            await app.state.started
            health = (await http.get("/api/ops/health", headers=admin.headers)).json()
            assert health["startup"] == {"status": "ok", "error": None}


async def test_a_failed_background_start_is_logged_reported_and_the_gateway_still_stops(
    app: FastAPI,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the skills store is unreadable")

    monkeypatch.setattr(skills_bootstrap, "load", broken)
    with caplog.at_level(logging.CRITICAL, logger="sophon.app"):
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.get("/api/health")).status_code == 200
                with pytest.raises(RuntimeError, match="unreadable"):
                    await app.state.started
                admin = await setup_admin(http, data_dir)
                health = (await http.get("/api/ops/health", headers=admin.headers)).json()
    assert app.state.runtime is None  # never started, so nothing was left running
    failed = [r.levelno for r in caplog.records if r.message == "the background start failed"]
    assert failed == [logging.CRITICAL]
    assert health["status"] == "degraded"
    assert health["startup"] == {
        "status": "failed",
        "error": "RuntimeError: the skills store is unreadable",
    }
