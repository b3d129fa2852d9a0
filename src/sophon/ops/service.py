"""Processing control shared by every replica (running, paused, draining), and the health and
resource reports of `/api/ops`."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.audit.marks import audited, exempt
from sophon.platform import kv
from sophon.platform.errors import ServiceUnavailable
from sophon.platform.events import Audience, Event, after_commit
from sophon.platform.memo import Memo
from sophon.platform.principal import Principal

STATE_KEY = "ops.processing"
PROCESSING_CHANGED = "ProcessingChanged"  # internal event: every replica's view of the state
DRAIN_RETRY_AFTER_SECONDS = 30


class Processing(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    DRAINING = "draining"


_STATE: Memo[Processing] = Memo({"system_settings"}, size=4)


async def state(db: AsyncSession) -> Processing:
    """Asked by every queue claim and every new task: kept in memory until a write (`Memo`)."""

    async def load() -> Processing:
        value = await kv.get_setting(db, STATE_KEY)
        return Processing(value) if value in Processing.__members__.values() else Processing.RUNNING

    return await _STATE.get(db, STATE_KEY, load)


def _announce(db: AsyncSession, to: Processing) -> None:
    after_commit(db, Event(PROCESSING_CHANGED, {"processing": to.value}, None, Audience()))


@audited("ops.running", "ops.paused", "ops.draining")
async def change(db: AsyncSession, principal: Principal, to: Processing) -> Processing:
    before = await state(db)
    await kv.put_setting(db, STATE_KEY, to.value)
    _announce(db, to)
    await audit.record(
        db, principal, f"ops.{to.value}", ("ops", None), details={"from": before.value}
    )
    return to


@exempt("a drain the operator started (audited as ops.draining) ends by itself")
async def settle_drain(db: AsyncSession) -> None:
    """Draining ends in paused once nothing runs (called by a worker that is idle)."""
    if await state(db) is Processing.DRAINING:
        await kv.put_setting(db, STATE_KEY, Processing.PAUSED.value)
        _announce(db, Processing.PAUSED)


@audited("ops.restart")
async def record_restart(db: AsyncSession, principal: Principal, service: str) -> None:
    """Audits a service restart ("Service start/stop/restart")."""
    await audit.record(db, principal, "ops.restart", ("ops", service), details={"service": service})


async def refuse_new_work(db: AsyncSession) -> None:
    """New task-creating requests get 503 while the Gateway drains."""
    if await state(db) is Processing.DRAINING:
        raise ServiceUnavailable(
            "The Gateway is draining: it finishes running work and accepts no new tasks.",
            {"processing": Processing.DRAINING.value},
            headers={"Retry-After": str(DRAIN_RETRY_AFTER_SECONDS)},
        )


_started = time.monotonic()


def _system_report(data: Path) -> dict[str, Any]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm", encoding="ascii") as statm:
        rss_pages = int(statm.read().split()[1])
    disk = shutil.disk_usage(data)
    return {
        "pid": os.getpid(),
        "uptimeSeconds": round(time.monotonic() - _started, 1),
        "cpu": {
            "userSeconds": round(usage.ru_utime, 3),
            "systemSeconds": round(usage.ru_stime, 3),
            "cores": os.cpu_count(),
            "loadAverage": list(os.getloadavg()),
        },
        "memory": {"rssBytes": rss_pages * page, "maxRssBytes": usage.ru_maxrss * 1024},
        "openFiles": len(os.listdir("/proc/self/fd")),
        "disk": {
            "path": str(data),
            "totalBytes": disk.total,
            "usedBytes": disk.used,
            "freeBytes": disk.free,
        },
    }


async def system_report(data: Path) -> dict[str, Any]:
    return await asyncio.to_thread(_system_report, data)
