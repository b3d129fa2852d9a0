"""The one source of "now", replaceable in tests for deterministic schedules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utcnow() -> datetime:
    return _now()


def set_clock(now: Callable[[], datetime] | None) -> None:
    """Installs a replacement clock (tests); `None` restores the wall clock."""
    global _now
    _now = now or (lambda: datetime.now(UTC))


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and `Z`, the wire format of every timestamp."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
