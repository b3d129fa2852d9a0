"""Schedules: 5-field cron (names, steps, ranges, `@daily`-style macros) and the 6-field form
with seconds first, evaluated by cronsim in the job's IANA time zone; a one-shot ISO 8601
datetime; an interval (`15m`, `2h`). Every time out is an aware UTC datetime strictly after the
moment asked about."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from sophon.cron.models import ScheduleType
from sophon.platform.errors import ValidationFailed

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
INTERVAL = re.compile(r"^\s*(\d{1,7})\s*([smhd])\s*$", re.IGNORECASE)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
MIN_INTERVAL = timedelta(minutes=1)
GAP_SAMPLES = 24  # consecutive fire times looked at to find a schedule's shortest gap
MAX_STEPS = 100_000  # fire times walked through while catching up before giving up


def invalid(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed.on(f"body.{field}", f"Invalid {field}: {reason}", reason)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("timezone", f"unknown IANA time zone {name!r}") from None


@dataclass(frozen=True)
class Schedule:
    type: ScheduleType
    expression: str
    tz: ZoneInfo
    anchor: datetime
    """Where an interval counts from."""

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment`, or None when there is none (a one-shot
        whose time has passed)."""
        if self.type is ScheduleType.ONE_SHOT:
            at = _one_shot(self.expression, self.tz)
            return at if at > moment else None
        if self.type is ScheduleType.INTERVAL:
            period = _period(self.expression)
            if moment < self.anchor:
                return self.anchor + period
            steps = (moment - self.anchor) // period + 1
            return self.anchor + steps * period
        expression = _cron(self.expression)
        local = moment.astimezone(self.tz)
        for candidate in CronSim(expression, local):
            # cronsim's fixed-time DST handling can land before `moment` in a repeated hour
            if candidate.astimezone(UTC) > moment:
                return candidate.astimezone(UTC)
        return None  # pragma: no cover - cronsim iterates forever or raises

    def preview(self, after: datetime, count: int) -> list[datetime]:
        times: list[datetime] = []
        moment = after
        while len(times) < count:
            following = self.next_after(moment)
            if following is None:
                break
            times.append(following)
            moment = following
        return times

    def latest_at_or_before(self, start: datetime, now: datetime) -> tuple[datetime, int]:
        """The last fire time in `[start, now]` (`start` being one) and how many there were."""
        latest, count = start, 1
        while count < MAX_STEPS:
            following = self.next_after(latest)
            if following is None or following > now:
                break
            latest, count = following, count + 1
        return latest, count


def _cron(expression: str) -> str:
    text = expression.strip()
    return MACROS.get(text.lower(), text)


def _period(expression: str) -> timedelta:
    match = INTERVAL.match(expression)
    if match is None:
        raise invalid("expression", "an interval is a number and a unit: 30s, 15m, 2h or 1d")
    return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2).lower()])


def _one_shot(expression: str, tz: ZoneInfo) -> datetime:
    try:
        at = datetime.fromisoformat(expression.strip().replace("z", "Z"))
    except ValueError:
        raise invalid("expression", "a one-shot time is an ISO 8601 datetime") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)  # a local time in the job's zone
    return at.astimezone(UTC)


def parse(
    schedule_type: ScheduleType,
    expression: str,
    timezone: str,
    *,
    now: datetime,
    min_gap_seconds: int,
) -> Schedule:
    """A checked schedule; 422 naming the field and the parser's reason when it is not one."""
    tz = zone(timezone)
    schedule = Schedule(schedule_type, expression.strip(), tz, now)
    if schedule_type is ScheduleType.ONE_SHOT:
        if _one_shot(expression, tz) <= now:
            raise invalid("expression", "the one-shot time is in the past")
        return schedule
    if schedule_type is ScheduleType.INTERVAL:
        period = _period(expression)
        floor = max(MIN_INTERVAL, timedelta(seconds=min_gap_seconds))
        if period < floor:
            raise invalid("expression", f"an interval is at least {_words(floor)}")
        return schedule
    text = _cron(expression)
    fields = text.split()
    if len(fields) not in (5, 6):
        raise invalid("expression", "a cron expression has 5 fields (or 6, seconds first)")
    try:
        times = schedule.preview(now, GAP_SAMPLES)
    except CronSimError as exc:
        raise invalid("expression", str(exc)) from None
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    floor = timedelta(seconds=min_gap_seconds)
    if gaps and min(gaps) < floor:
        raise invalid("expression", f"fires are at least {_words(floor)} apart")
    return schedule


def _words(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds} seconds"
