"""How a turn ends early."""

from __future__ import annotations


class TurnCancelled(Exception):
    """The task was cancelled (or its session deleted): stop at this cancellation point."""


class TurnSkipped(Exception):
    """Nothing to do (an empty HEARTBEAT.md): recorded as skipped, never as a success."""


class TurnFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
