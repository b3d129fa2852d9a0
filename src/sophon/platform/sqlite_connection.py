"""The aiosqlite connection behind `sqlite_driver.py`'s: it knows whether its thread is at work,
rolls back before it closes, and holds its place among its file's writers."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiosqlite

from sophon.platform.sqlite_writers import WriterTurn


class ThreadedConnection(aiosqlite.Connection):
    """aiosqlite's connection, knowing whether its thread is at work: a statement whose caller was
    cancelled still runs there, and nothing may run on the loop meanwhile. Each counter is written
    by one thread only."""

    def __init__(self, connector: Any, iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self.queued = 0  # trips handed to the thread (written on the loop)
        self.done = 0  # trips the thread has finished (written in the thread)
        self.writer: WriterTurn | None = None  # among its file's writers (`sqlite_writers.py`)

    @property
    def idle(self) -> bool:
        return self.queued == self.done and self._connection is not None

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def counted() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self.done += 1

        if not self._running or not self._connection:
            raise ValueError("Connection closed")  # as aiosqlite says it, before counting
        self.queued += 1
        return await super()._execute(counted)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._execute(self._connection.rollback)
        await super().close()

    def stop(self) -> asyncio.Future[Any] | None:
        if self._connection is not None:  # queued ahead of the close that stop() queues
            self._tx.put_nowait((None, self._connection.rollback))
        return super().stop()
