"""The bundled skills seeded at start-up: recorded once per version, also when two replicas
sharing the database start at the same moment and both find them missing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from sophon.app import create_app
from sophon.settings import Settings
from sophon.skills import store
from sophon.skills.models import SkillVersion
from tests.e2e.server import POSTGRESQL_ONLY


@POSTGRESQL_ONLY
async def test_two_replicas_seeding_at_once_both_start_and_record_each_version_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # both replicas' first seeding waits here, so each has found the skill missing before
    # either records it: the second's insert then meets the first's committed row
    both_looked = threading.Barrier(2, timeout=60)
    firsts = threading.Semaphore(2)  # the first write of each replica
    write = store.write

    def write_together(data: Path, *args: Any) -> None:
        if firsts.acquire(blocking=False):
            both_looked.wait()
        write(data, *args)

    monkeypatch.setattr(store, "write", write_together)
    one, two = create_app(settings), create_app(settings)
    async with LifespanManager(one), LifespanManager(two):
        for app in (one, two):
            await app.state.started  # raised the IntegrityError before
            assert set(app.state.gateway.skills.active) == {"code.lint", "csv.query"}
        async with one.state.gateway.db.transaction(readonly=True) as db:
            counted = select(SkillVersion.skill_name, func.count()).group_by(
                SkillVersion.skill_name
            )
            versions = dict((await db.execute(counted)).all())
    assert versions == {"code.lint": 1, "csv.query": 1}
