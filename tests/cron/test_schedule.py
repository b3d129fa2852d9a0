"""Schedule arithmetic with cronsim in IANA zones, across DST changes (no Gateway needed)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sophon.cron.models import ScheduleType
from sophon.cron.schedule import Schedule, parse
from sophon.platform.errors import ValidationFailed

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def _times(expression: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    schedule = parse(ScheduleType.RECURRING, expression, tz.key, now=start, min_gap_seconds=10)
    out, moment = [], start
    while (following := schedule.next_after(moment)) is not None and following < end:
        out.append(following)
        moment = following
    return out


def test_spring_forward_runs_once_at_the_first_instant_after_the_gap() -> None:
    start = datetime(2026, 3, 7, 12, tzinfo=NY).astimezone(UTC)
    times = _times("30 2 * * *", NY, start, start + timedelta(days=2))
    local = [t.astimezone(NY) for t in times]
    assert [(t.day, t.hour, t.minute) for t in local] == [(8, 3, 0), (9, 2, 30)]


def test_fall_back_runs_once_not_twice() -> None:
    start = datetime(2026, 10, 31, 12, tzinfo=NY).astimezone(UTC)
    times = _times("30 1 * * *", NY, start, start + timedelta(days=2))
    local = [t.astimezone(NY) for t in times]
    assert [(t.day, t.hour, t.minute) for t in local] == [(1, 1, 30), (2, 1, 30)]
    assert local[0].utcoffset() == timedelta(hours=-4)  # the first of the two 01:30s


def test_fall_back_counted_from_inside_the_repeated_hour_does_not_fire_again() -> None:
    second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST, after 01:30 EDT passed
    schedule = Schedule(ScheduleType.RECURRING, "30 1 * * *", NY, second_pass)
    following = schedule.next_after(second_pass)
    assert following is not None
    assert following.astimezone(NY).day == 2


def test_every_half_hour_fires_four_times_in_the_repeated_hour() -> None:
    start = datetime(2026, 11, 1, 5, tzinfo=UTC)  # 01:00 EDT
    end = datetime(2026, 11, 1, 7, tzinfo=UTC)  # 02:00 EST
    times = _times("*/30 * * * *", NY, start - timedelta(seconds=1), end)
    assert len(times) == 4
    assert [t.astimezone(NY).strftime("%H:%M%z") for t in times] == [
        "01:00-0400",
        "01:30-0400",
        "01:00-0500",
        "01:30-0500",
    ]
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(times))


def test_monday_nine_in_berlin_stays_nine_local_across_the_change() -> None:
    start = datetime(2026, 3, 20, tzinfo=BERLIN).astimezone(UTC)
    times = _times("0 9 * * MON", BERLIN, start, start + timedelta(days=21))
    assert [t.astimezone(BERLIN).hour for t in times] == [9, 9, 9]
    assert [t.hour for t in times] == [8, 7, 7]  # UTC moves, local time does not


def test_names_macros_ranges_steps_and_seconds() -> None:
    start = datetime(2026, 3, 6, 12, tzinfo=UTC)  # a Friday
    weekdays = _times("0 9 * * MON-FRI", ZoneInfo("UTC"), start, start + timedelta(days=7))
    assert [t.weekday() for t in weekdays] == [0, 1, 2, 3, 4]
    assert _times("@daily", ZoneInfo("UTC"), start, start + timedelta(days=2))[0].hour == 0
    assert _times("0 0 1 JAN *", ZoneInfo("UTC"), start, start + timedelta(days=400))[0].month == 1
    seconds = _times("*/15 * * * * *", ZoneInfo("UTC"), start, start + timedelta(minutes=1))
    assert [t.second for t in seconds] == [15, 30, 45]


def test_interval_counts_from_its_anchor() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = parse(ScheduleType.INTERVAL, "15m", "UTC", now=anchor, min_gap_seconds=10)
    assert schedule.next_after(anchor) == anchor + timedelta(minutes=15)
    later = anchor + timedelta(minutes=31)
    assert schedule.next_after(later) == anchor + timedelta(minutes=45)


@pytest.mark.parametrize(
    ("kind", "expression", "reason"),
    [
        (ScheduleType.RECURRING, "61 * * * *", "Bad minute"),
        (ScheduleType.RECURRING, "* * *", "5 fields"),
        (ScheduleType.RECURRING, "* * * * * *", "at least 10 seconds apart"),
        (ScheduleType.INTERVAL, "30s", "at least 1 minute"),
        (ScheduleType.INTERVAL, "often", "a number and a unit"),
        (ScheduleType.ONE_SHOT, "tomorrow", "ISO 8601"),
        (ScheduleType.ONE_SHOT, "2001-01-01T00:00:00Z", "in the past"),
    ],
)
def test_bad_expressions_name_the_field_and_the_reason(
    kind: ScheduleType, expression: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse(kind, expression, "UTC", now=datetime.now(UTC), min_gap_seconds=10)
    (field,) = raised.value.details["fields"]
    assert field["field"] == "body.expression"
    assert reason in field["message"]
