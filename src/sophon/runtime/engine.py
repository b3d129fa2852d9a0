"""The agent runtime of one Gateway process: the queue worker that runs turns, the scheduler
(heartbeats, approval expiry, task reconciliation) and the bus listener that wakes the worker
when a task is queued (or a document a turn waits for is done) and forwards cancel requests to
the turn that runs here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sophon.approvals import service as approvals
from sophon.cron.firing import RUN_JOB as CRON_RUN_JOB
from sophon.cron.runner import CronRunner
from sophon.cron.scheduler import CronScheduler
from sophon.documents import pipeline as document_pipeline
from sophon.documents import turn_hooks as document_hooks
from sophon.memory import turn_hooks as memory_loop
from sophon.memory.learning import jobs as memory_jobs
from sophon.ops import service as ops
from sophon.platform.events import EventName, Subscription
from sophon.platform.queue_worker import Worker
from sophon.runtime import heartbeat
from sophon.runtime.step import TurnScope
from sophon.runtime.turn import TurnRunner
from sophon.skills import turn_hooks as skills_loop
from sophon.tasks import events as task_events
from sophon.tasks import service as tasks
from sophon.workflows import triggers as workflow_triggers
from sophon.workflows.engine import WorkflowEngine
from sophon.workflows.executors import Services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from sophon.gateway import Gateway
    from sophon.tasks.models import Task

log = logging.getLogger("sophon.runtime")
WAKING = frozenset(
    {
        EventName.TASK_QUEUED.value,
        # a turn held for its attached documents may be due now
        document_pipeline.DOCUMENT_READY,
        document_pipeline.DOCUMENT_FAILED,
    }
)


async def _close_approvals(db: AsyncSession, task: Task) -> None:
    await approvals.withdraw_for_task(db, task.id, approvals.TASK_ENDED)


class AgentRuntime:
    def __init__(self, gateway: Gateway) -> None:
        settings = gateway.settings
        memory_loop.install(settings)
        document_hooks.install()
        skills_loop.install()
        self.gateway = gateway
        self.runner = TurnRunner(
            TurnScope(
                settings=settings,
                database=gateway.db,
                bus=gateway.bus,
                vault=gateway.vault,
                model_runtime=gateway.model_runtime,
                tools=gateway.tools,
            )
        )
        self.workflows = WorkflowEngine(
            Services(
                settings=settings,
                database=gateway.db,
                vault=gateway.vault,
                model_runtime=gateway.model_runtime,
                tools=gateway.tools,
            )
        )
        self.worker = Worker(
            gateway.db,
            {
                tasks.TURN_JOB: self.runner.handle,
                CRON_RUN_JOB: CronRunner(gateway.db, gateway.cron).handle,
                **self.workflows.job_handlers(),
                **memory_jobs.job_handlers(
                    gateway.db, settings, gateway.vault, gateway.model_runtime
                ),
                **document_pipeline.job_handlers(gateway.db, settings),
            },
            lease_seconds=settings.task_lease_seconds,
            poll_interval=settings.queue_poll_seconds,
            concurrency=settings.worker_concurrency,
            gate=self._may_claim,
            prepare={tasks.TURN_JOB: self.runner.prepare},
        )
        self.cron = CronScheduler(gateway.db, gateway.bus, gateway.cron, self.worker.notify)
        self.last_tick_at: float | None = None
        self.ticks = 0  # completed scheduler rounds, reported by the health check
        self._stop = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await memory_loop.schedule_every_tenant(self.gateway.db)
        listener = self.gateway.bus.subscribe(
            lambda e: e.name in WAKING or e.name == task_events.CANCEL_REQUESTED
        )
        self._background = [
            asyncio.create_task(self._listen(listener), name="runtime-listener"),
            asyncio.create_task(self._schedule(), name="runtime-scheduler"),
            asyncio.create_task(
                workflow_triggers.listen(self.gateway.db, self.gateway.bus),
                name="workflow-listener",
            ),
        ]
        self._worker = asyncio.create_task(
            self.worker.run_until_stopped(self._stop), name="runtime-worker"
        )
        await self.cron.start()

    async def stop(self) -> None:
        """Stops claiming; running turns are handed back to the queue (resumed elsewhere)."""
        self._stop.set()
        await self.cron.stop()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._worker is not None:
            await self._worker

    @staticmethod
    async def _may_claim(db: AsyncSession, running_here: int) -> bool:
        state = await ops.state(db)
        if state is ops.Processing.RUNNING:
            return True
        idle = running_here == 0 and await tasks.running_count(db) == 0
        if state is ops.Processing.DRAINING and idle:
            await ops.settle_drain(db)
        return False

    async def _listen(self, subscription: Subscription) -> None:
        async with subscription:
            async for event in subscription:
                if event.name == EventName.TASK_QUEUED.value and not event.remote:
                    continue  # the commit that queued its job woke the worker (queue.on_enqueued)
                if event.name in WAKING:
                    self.worker.notify()
                else:
                    self.runner.request_stop(str(event.payload.get("taskId")))

    async def _schedule(self) -> None:
        interval = self.gateway.settings.scheduler_poll_seconds
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._stop.wait()

    async def tick(self) -> None:
        """One round of scheduled work (also called by tests and `sophon` operators)."""
        database = self.gateway.db
        if self.gateway.settings.heartbeat_enabled:
            await heartbeat.tick(database)
        await tasks.reconcile(database, _close_approvals)
        self.last_tick_at = asyncio.get_running_loop().time()
        self.ticks += 1
