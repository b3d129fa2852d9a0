"""Small asyncio helpers shared by the domains."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any


async def first_of(*waits: Awaitable[Any], limit: float | None) -> None:
    """Returns when any of `waits` finishes or `limit` seconds pass; cancels the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await task
