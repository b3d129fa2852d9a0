"""One write transaction at a time per SQLite database file in this process, in arrival order.

SQLite lets one writer in at a time. A write transaction that finds the write lock taken used
to wait for it in its connection's thread, where SQLite's busy handler sleeps 1 to 100 ms
between tries: a waiter woke late, a later writer could take the lock first, and under many
concurrent turns the slowest waited many times the fastest. Here the writers of this process
queue on the event loop instead: the one ahead hands the lock to the next as its transaction
ends, so the next one's `BEGIN IMMEDIATE` succeeds at once, on the loop. Other processes still
meet SQLite's own lock.

The lock is held from a write transaction's BEGIN to its COMMIT or ROLLBACK (read-only
transactions never take it). A transaction that waits for another write transaction while it
holds the lock would wait for ever: a waiter gives up after `BUSY_TIMEOUT` and goes SQLite's
way, as it did before."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import weakref

BUSY_TIMEOUT = 30.0
log = logging.getLogger(__name__)


class WriterLock:
    """A FIFO lock handed over to the next waiter on release (no barging)."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def try_acquire(self) -> bool:
        if self._held or self._waiters:
            return False
        self._held = True
        return True

    async def acquire(self) -> bool:
        """True once held; False after `BUSY_TIMEOUT` (the caller goes on without it)."""
        if self.try_acquire():
            return True
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            async with asyncio.timeout(BUSY_TIMEOUT):
                await asyncio.shield(turn)
        except TimeoutError:
            log.warning("a writer waited %.0f s for the writers ahead of it", BUSY_TIMEOUT)
            return self._withdraw(turn)
        except asyncio.CancelledError:
            if self._withdraw(turn):
                self.release()
            raise
        return True

    def _withdraw(self, turn: asyncio.Future[None]) -> bool:
        """Leaves the queue; True if the lock was handed over meanwhile (now held)."""
        if turn.done():
            return True
        turn.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(turn)
        return False

    def release(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # handed over: still held
                return
        self._held = False


class WriterTurn:
    """A connection's place among the writers of its file: held or not."""

    __slots__ = ("held", "lock")

    def __init__(self, lock: WriterLock) -> None:
        self.lock = lock
        self.held = False

    async def wait(self) -> None:
        if not self.held:
            self.held = await self.lock.acquire()

    def take(self) -> bool:
        """Held now, without waiting? (False when writers wait ahead.)"""
        if not self.held:
            self.held = self.lock.try_acquire()
        return self.held

    def end(self) -> None:
        if self.held:
            self.held = False
            self.lock.release()


_locks: weakref.WeakValueDictionary[str, WriterLock] = weakref.WeakValueDictionary()
"""By file; a lock lives as long as a connection to its file does."""


def turn_for(database: str) -> WriterTurn | None:
    """A new connection's turn among its file's writers; None for an in-memory database or a
    URI."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = os.path.realpath(database)
    lock = _locks.get(path)
    if lock is None:
        lock = _locks[path] = WriterLock()
    return WriterTurn(lock)
