"""`/api/ops`: processing control (pause, resume, drain) and deep health and resource reports."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import Request

from sophon.deps import DbDep, GatewayDep, agent_runtime_of, background_start_of
from sophon.identity.guard import PrincipalDep, requires
from sophon.ops import service as ops
from sophon.platform import queue
from sophon.platform.access import api_router
from sophon.platform.clock import iso
from sophon.platform.permissions import Permission as P
from sophon.platform.schemas import ApiModel, Timestamp
from sophon.providers.service import list_providers

router = api_router("/ops", tags=["Operations"])
operate = requires(P.MANAGE_OPERATIONS)
observe = requires(P.VIEW_SYSTEM_HEALTH)


class ProcessingOut(ApiModel):
    processing: ops.Processing


@router.post("/pause", operation_id="pauseProcessing")
@operate
async def pause(db: DbDep, principal: PrincipalDep) -> ProcessingOut:
    """Stops dequeuing agent tasks: running ones finish, new ones are queued but not run."""
    return ProcessingOut(processing=await ops.change(db, principal, ops.Processing.PAUSED))


@router.post("/resume", operation_id="resumeProcessing")
@operate
async def resume(db: DbDep, principal: PrincipalDep) -> ProcessingOut:
    """Starts dequeuing again."""
    return ProcessingOut(processing=await ops.change(db, principal, ops.Processing.RUNNING))


@router.post("/drain", operation_id="drainProcessing")
@operate
async def drain(db: DbDep, principal: PrincipalDep) -> ProcessingOut:
    """Finishes running tasks, then pauses; meanwhile new task-creating requests get 503
    `service_unavailable` with `Retry-After`."""
    return ProcessingOut(processing=await ops.change(db, principal, ops.Processing.DRAINING))


class SchedulerOut(ApiModel):
    state: str
    next_due_at: Timestamp | None


@router.post("/scheduler/restart", operation_id="restartScheduler")
@operate
async def restart_scheduler(request: Request, db: DbDep, principal: PrincipalDep) -> SchedulerOut:
    """Restarts cron scheduling (every schedule reloaded from the database); the Gateway keeps
    running. A process that runs no workers has no scheduler: its state is `off`."""
    await ops.record_restart(db, principal, "scheduler")
    runtime = agent_runtime_of(request)
    if runtime is None:
        return SchedulerOut(state="off", next_due_at=None)
    await runtime.cron.restart()
    return SchedulerOut(state=runtime.cron.state.value, next_due_at=runtime.cron.next_due)


@router.get("/health", operation_id="opsHealth")
@observe
async def health(request: Request, db: DbDep, gateway: GatewayDep) -> dict[str, Any]:
    """Database, queue, workers, scheduler, the background start and the tenant's model
    providers."""
    started = time.perf_counter()
    await gateway.db.ping()
    database = {
        "status": "ok",
        "dialect": gateway.db.dialect,
        "latencyMs": round((time.perf_counter() - started) * 1000, 2),
    }
    runtime = agent_runtime_of(request)
    loop_time = asyncio.get_running_loop().time()
    workers: dict[str, Any] = {"status": "off", "running": 0, "concurrency": 0}
    scheduler: dict[str, Any] = {"status": "off", "lastTickSecondsAgo": None, "ticks": 0}
    if runtime is not None:
        workers = {
            "status": "ok",
            "id": runtime.worker.worker_id,
            "running": runtime.worker.running,
            "concurrency": runtime.worker.concurrency,
        }
        last = runtime.last_tick_at
        cron = runtime.cron
        scheduler = {
            "status": "ok" if last is not None else "starting",
            "lastTickSecondsAgo": None if last is None else round(loop_time - last, 1),
            "ticks": runtime.ticks,
            "heartbeats": gateway.settings.heartbeat_enabled,
            "cron": {
                "state": cron.state.value,
                "nextDueAt": iso(cron.next_due) if cron.next_due else None,
                "fires": cron.fires,
                "restarts": cron.restarts,
                "lastTickAt": iso(cron.last_tick_at) if cron.last_tick_at else None,
            },
        }
    providers = [
        {"name": p.name, "type": p.type, "status": p.status, "lastError": p.last_error}
        for p in await list_providers(db)
    ]
    startup = background_start_of(request)
    degraded = (
        any(p["status"] == "Error" for p in providers)
        or runtime is None
        or startup["status"] != "ok"
    )
    return {
        "status": "degraded" if degraded else "healthy",
        "processing": (await ops.state(db)).value,
        "database": database,
        "queue": {"depth": await queue.depth(gateway.db)},
        "startup": startup,
        "workers": workers,
        "scheduler": scheduler,
        "providers": providers,
    }


@router.get("/system", operation_id="opsSystem")
@observe
async def system(gateway: GatewayDep) -> dict[str, Any]:
    """Process CPU time, memory, open files and the data directory's disk."""
    return await ops.system_report(gateway.settings.data)
