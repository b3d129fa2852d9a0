"""The queue's worker: claims jobs of the kinds it has handlers for, runs them concurrently,
keeps their leases alive, records outcomes and stops handlers whose job was cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.platform import queue
from sophon.platform.db import Database
from sophon.platform.ids import new_id
from sophon.platform.queue import ClaimedJob

Handler = Callable[[ClaimedJob], Coroutine[Any, Any, dict[str, Any] | None]]
Gate = Callable[[AsyncSession, int], Awaitable[bool]]
"""Asked in the claim's transaction, with the number of jobs this worker runs: False holds new
claims."""
StopReason = Literal["cancel", "lost", "shutdown"]

log = logging.getLogger(__name__)


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help: the job fails at once."""


class Worker:
    """One worker loop; run several (in one or many processes) against the same database."""

    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, Handler],
        worker_id: str | None = None,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        concurrency: int = 4,
        gate: Gate | None = None,
        prepare: Mapping[str, queue.Prepare] | None = None,
    ) -> None:
        self.database = database
        self.handlers = dict(handlers)
        self.worker_id = worker_id or new_id("wrk")
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.gate = gate
        self.prepare = dict(prepare or {})
        self._wake = asyncio.Event()
        self._beat_requested = False
        self._notices = 0  # notices so far
        self._backlog = True  # jobs may wait that the last claim left: look when a slot frees
        self._queued_serial: dict[str, str] = {}  # since the last claim: serial key by job id
        self._queued_unknown = False  # since the last claim: a notice that names no jobs
        self._serial_running: dict[str, str] = {}  # serial key by job id, of the jobs run here
        self._holding: set[str] = set()  # serial keys run here that may hold back a queued job
        self._released: set[str] = set()  # keys of `_holding` whose job ended since the last claim
        self._handler_tasks: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self._job_tasks: set[asyncio.Task[None]] = set()
        self._stop_reasons: dict[str, StopReason] = {}

    def notify(self, *, check_leases: bool = False) -> None:
        """Work may be waiting (a job was enqueued): look now instead of at the next poll;
        `check_leases` also checks the running jobs' leases and cancel flags at once."""
        if check_leases:
            self._beat_requested = True
        self._queued_unknown = True
        self._look()

    def _enqueued(self, serial: Mapping[str, str]) -> None:
        """A commit of this process queued due jobs of this worker's kinds (`serial`: the serial
        keys of those that have one, by job id)."""
        self._queued_serial.update(serial)
        self._look()

    def _look(self) -> None:
        self._notices += 1
        self._backlog = True
        self._wake.set()

    @property
    def running(self) -> int:
        return len(self._handler_tasks)

    async def run_until_stopped(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        beat_every = self.lease_seconds / 3
        next_beat = loop.time() + beat_every
        unhook = queue.on_enqueued(self.handlers, self._enqueued)
        stopping = asyncio.create_task(stop.wait())  # one waiter for the loop's whole life
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                self._wake.clear()
                if self._beat_requested or loop.time() >= next_beat:
                    self._beat_requested = False
                    next_beat = loop.time() + beat_every
                    await self._heartbeat_all()
                    await queue.reclaim_expired(self.database)
                await self._fill()
                timeout = max(0.0, min(self.poll_interval, next_beat - loop.time()))
                await self._sleep(timeout)
        finally:
            stopping.cancel()
            unhook()
            await self._shutdown()

    async def _fill(self) -> None:
        free = self.concurrency - len(self._handler_tasks)
        if free <= 0 or not self.handlers:
            return
        notices, gate, running = self._notices, self.gate, len(self._handler_tasks)
        queued_serial, self._queued_serial = self._queued_serial, {}
        queued_unknown, self._queued_unknown = self._queued_unknown, False
        released, self._released = self._released, set()
        held_back = False

        async def allowed(db: AsyncSession) -> bool:
            nonlocal held_back
            held_back = gate is not None and not await gate(db, running)
            return not held_back

        claimed = await queue.claim(
            self.database,
            self.worker_id,
            list(self.handlers),
            self.lease_seconds,
            limit=free,
            allowed=allowed,
            prepare=self.prepare,
        )
        conclusive = len(claimed) < free and not held_back
        if conclusive and notices == self._notices:
            self._backlog = False  # nothing else was due: a finished job need not look again
        stale = [job for job in claimed if job.id in self._handler_tasks]
        for job in claimed:
            if job not in stale:
                self._start(job)
        claimed_ids = {job.id for job in claimed}
        left = {job_id: key for job_id, key in queued_serial.items() if job_id not in claimed_ids}
        self._note_held_back(set(left.values()) | released, queued_unknown)
        if not conclusive:  # the claim had no room for all that is due: the next one decides
            self._queued_serial.update(left)
            self._queued_unknown |= queued_unknown
            self._released |= released
        for job in stale:  # our earlier run of it lost the lease, still stopping
            await queue.release(self.database, job.id, self.worker_id)

    def _start(self, job: ClaimedJob) -> None:
        handler = asyncio.create_task(self.handlers[job.kind](job))
        self._handler_tasks[job.id] = handler
        if job.serial_key is not None:
            self._serial_running[job.id] = job.serial_key
        handler.add_done_callback(partial(self._handler_done, job))

    def _note_held_back(self, keys: set[str], unknown: bool) -> None:
        """After a claim: which serial keys run here may hold back a queued job. Those of the
        jobs queued here that it left; those whose held back job it claimed (more may follow);
        all, after a notice that named no jobs."""
        running = set(self._serial_running.values())
        self._holding |= running if unknown else keys & running

    def _handler_done(self, job: ClaimedJob, handler: asyncio.Task[dict[str, Any] | None]) -> None:
        """A job its handler completed in its own last transaction (a turn) frees its slot at
        once; any other ending is recorded first, in a task of its own."""
        if job.outcome.recorded:
            self._settled(job)
            return
        recording = asyncio.create_task(self._record(job, handler))
        self._job_tasks.add(recording)
        recording.add_done_callback(partial(self._recorded, job))

    def _recorded(self, job: ClaimedJob, recording: asyncio.Task[None]) -> None:
        self._job_tasks.discard(recording)
        self._settled(job)

    def _settled(self, job: ClaimedJob) -> None:
        """A slot is free: look for work at once if some may wait (a claim found more than it
        had room for, a job was queued meanwhile, or this job may have held back one of its
        serial key), else at the next notice or poll; a look that finds nothing is a write
        transaction for nothing."""
        self._handler_tasks.pop(job.id, None)
        self._stop_reasons.pop(job.id, None)
        key = self._serial_running.pop(job.id, None)
        if key is not None and key in self._holding:
            self._holding.discard(key)
            self._released.add(key)
            self._wake.set()
        elif self._backlog:
            self._wake.set()

    async def _record(self, job: ClaimedJob, handler: asyncio.Task[dict[str, Any] | None]) -> None:
        db, wid = self.database, self.worker_id
        if handler.cancelled():
            reason = self._stop_reasons.get(job.id, "shutdown")
            if reason == "cancel":
                await queue.acknowledge_cancel(db, job.id, wid)
            elif reason == "shutdown":
                await queue.release(db, job.id, wid)
            return
        error = handler.exception()
        if error is None:
            await queue.complete(db, job.id, wid, handler.result())
        elif isinstance(error, PermanentJobError):
            await queue.fail(db, job.id, wid, str(error) or type(error).__name__, retry=False)
        else:
            log.warning("job %s (%s) failed: %r", job.id, job.kind, error)
            await queue.fail(db, job.id, wid, repr(error), retry=True)

    async def _heartbeat_all(self) -> None:
        live = {job_id: h for job_id, h in self._handler_tasks.items() if not h.done()}
        beats = await queue.heartbeat_many(
            self.database, list(live), self.worker_id, self.lease_seconds
        )
        for job_id, handler in live.items():
            beat = beats[job_id]
            if not beat:
                self._stop(job_id, handler, "lost")
            elif beat.cancel_requested:
                self._stop(job_id, handler, "cancel")

    def _stop(
        self, job_id: str, handler: asyncio.Task[dict[str, Any] | None], reason: StopReason
    ) -> None:
        self._stop_reasons.setdefault(job_id, reason)
        handler.cancel()

    async def _sleep(self, wait_seconds: float) -> None:
        """Until a wake-up (a stop wakes it too) or `wait_seconds`: no task per wait."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):
                await self._wake.wait()

    async def _shutdown(self) -> None:
        """Stops the handlers still running and hands their jobs back to the queue."""
        for job_id, handler in list(self._handler_tasks.items()):
            self._stop(job_id, handler, "shutdown")
        while self._handler_tasks:  # a slot is free once its job's ending is recorded
            await asyncio.wait({*self._handler_tasks.values(), *self._job_tasks})


__all__ = ["Gate", "Handler", "PermanentJobError", "Worker"]
