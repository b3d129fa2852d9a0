"""WAL checkpoints of a SQLite database file, run in a thread instead of in a commit.

SQLite checkpoints the WAL in the commit that takes it past `wal_autocheckpoint` pages: that
commit copies pages into the database file and syncs it, milliseconds a write transaction on the
event loop (`sqlite_driver.py`) must not spend there. The Database's connections commit without
checkpointing; every `EVERY` commits a `PASSIVE` checkpoint runs here, in a thread, on a
connection of its own, while writers and readers go on. A passive checkpoint never waits, so
under steady writes it may never catch up with the WAL's end, and SQLite restarts the WAL only
once it has; when the WAL passes `LIMIT_FRAMES` this waits for a moment without writers
(`RESTART`, writers meanwhile wait in their threads as for any lock) so that it stays bounded."""

from __future__ import annotations

import asyncio
from typing import Any

from sophon.platform import sqlite_driver

EVERY = 64
"""Commits between two checkpoints (a chat turn's commits write a few pages each)."""
LIMIT_FRAMES = 4000
"""WAL frames (pages) past which a checkpoint waits to restart the WAL."""
_RESTART_WAIT_MS = 5000


class Checkpoints:
    """Checkpoints of the database at `path`, counted by the commits of its connections."""

    def __init__(self, path: str, every: int = EVERY, limit_frames: int = LIMIT_FRAMES) -> None:
        self.path = path
        self.every = every
        self.limit_frames = limit_frames
        self._commits = 0
        self._connection: Any = None
        self._running: asyncio.Future[None] | None = None

    def attach(self, dbapi_connection: Any, _record: Any = None) -> None:
        """For the engine's "connect" event: the connection's commits are counted here."""
        sqlite_driver.on_commit(dbapi_connection, self.committed)

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= self.every and self._running is None:
            self._commits = 0
            running = asyncio.get_running_loop().run_in_executor(None, self._checkpoint)
            running.add_done_callback(self._done)
            self._running = running

    def _done(self, running: asyncio.Future[None]) -> None:
        self._running = None
        if not running.cancelled():
            running.exception()  # a failed checkpoint is retried after the next commits

    def _checkpoint(self) -> None:
        if self._connection is None:
            self._connection = sqlite_driver.open_checkpointer(self.path, _RESTART_WAIT_MS)
        _, frames, _ = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames > self.limit_frames:
            self._connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()

    async def settled(self) -> None:
        """Returns once no checkpoint is running."""
        while (running := self._running) is not None:
            await asyncio.wait({running})

    async def close(self) -> None:
        await self.settled()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def for_url(url: str) -> Checkpoints | None:
    """Checkpoints for a SQLite database file; None for anything else."""
    path = sqlite_driver.file_path(url)
    return None if path is None else Checkpoints(path)
