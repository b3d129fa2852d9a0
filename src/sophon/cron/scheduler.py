"""The cron scheduler of one Gateway process: it sleeps until the earliest `next_run_at` of any
job (or until a change wakes it), fires what is due, and settles agent runs when their tasks end.
No job is polled: 10,000 idle jobs cost one indexed lookup per wake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from sophon.cron import firing
from sophon.cron.context import CronContext
from sophon.cron.runner import TASK_OUTCOMES, settle_abandoned, settle_ended_tasks, settle_task
from sophon.platform.aio import first_of
from sophon.platform.clock import utcnow
from sophon.platform.db import Database
from sophon.platform.events import Event, EventBus, Subscription

log = logging.getLogger("sophon.cron")

RUN_TASK_KINDS = frozenset({"cron", "workflow"})
"""Kinds of the tasks a cron run waits for: an agent turn the job started, or a workflow run."""


class SchedulerState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    OFF = "off"


class CronScheduler:
    def __init__(
        self,
        database: Database,
        bus: EventBus,
        ctx: CronContext,
        on_fired: Callable[[], None] = lambda: None,
    ) -> None:
        self.database = database
        self.bus = bus
        self.ctx = ctx
        self.on_fired = on_fired
        self.state = SchedulerState.STOPPED if ctx.settings.cron_enabled else SchedulerState.OFF
        self.next_due: datetime | None = None
        self.fires = 0
        self.restarts = 0
        self.last_tick_at: datetime | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Starts listening (settling agent runs) and, unless cron is switched off, firing."""
        listener = self.bus.subscribe(
            lambda e: e.name == firing.CHANGED or e.name in TASK_OUTCOMES, max_queue=10_000
        )
        self._tasks = [asyncio.create_task(self._listen(listener), name="cron-listener")]
        if self.ctx.settings.cron_enabled:
            self._tasks.append(asyncio.create_task(self._loop(), name="cron-scheduler"))
            self.state = SchedulerState.RUNNING

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.state is SchedulerState.RUNNING:
            self.state = SchedulerState.STOPPED

    async def restart(self) -> None:
        """Reloads every schedule from the database without restarting the Gateway."""
        await self.stop()
        self.next_due = None
        self.restarts += 1
        await self.start()

    def wake(self) -> None:
        self._wake.set()

    async def tick(self, now: datetime | None = None) -> int:
        """Fires what is due now and looks up the next due time (tests call it too)."""
        fired = await firing.fire_due(self.database, now)
        self.fires += fired
        await settle_ended_tasks(self.database, self.ctx.settings.cron_history_per_job)
        await settle_abandoned(self.database, self.ctx.settings.cron_history_per_job)
        self.last_tick_at = utcnow()
        self.next_due = await firing.next_due(self.database)
        if fired:
            self.on_fired()
        return fired

    def _sleep_seconds(self) -> float:
        cap = self.ctx.settings.cron_max_sleep_seconds
        if self.next_due is None:
            return cap
        return min(cap, max(0.0, (self.next_due - utcnow()).total_seconds()))

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.tick()
            except Exception:  # the loop must outlive one failed round (a database blip)
                log.exception("cron tick failed")
            await first_of(self._wake.wait(), limit=self._sleep_seconds())

    async def _listen(self, subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                if event.name == firing.CHANGED:
                    self._wake.set()
                    continue
                try:
                    await self._settle(event)
                except Exception:  # one run that can't be settled must not stop the listener
                    log.exception("settling the cron run of task %s failed", event.payload)

    async def _settle(self, event: Event) -> None:
        task_id = event.payload.get("taskId")
        if event.tenant_id is None or not isinstance(task_id, str):
            return
        if event.payload.get("kind") not in RUN_TASK_KINDS:
            return  # an ordinary chat turn: no cron run waits for it
        error = event.payload.get("error")
        async with self.database.transaction(tenant_id=event.tenant_id) as db:
            await settle_task(
                db,
                task_id,
                TASK_OUTCOMES[event.name],
                str(error) if error else None,
                self.ctx.settings.cron_history_per_job,
            )
