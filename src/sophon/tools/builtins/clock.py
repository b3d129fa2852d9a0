"""`datetime.now`: the current time in a named IANA time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from sophon.platform.clock import utcnow
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool


class DatetimeNowArguments(ToolArguments):
    timezone: str = Field(
        "UTC",
        min_length=1,
        max_length=64,
        description="IANA time zone name, e.g. Europe/Paris. Default UTC.",
    )


async def datetime_now(context: ToolContext, arguments: DatetimeNowArguments) -> ToolResult:
    del context
    try:
        zone = ZoneInfo(arguments.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ToolResult.error(
            f"Unknown time zone {arguments.timezone!r}: use an IANA name such as Europe/Paris."
        )
    now = utcnow().astimezone(zone)
    text = now.isoformat(timespec="seconds")
    return ToolResult(
        content=f"{text} ({arguments.timezone}, {now:%A})",
        data={"iso": text, "timezone": arguments.timezone, "weekday": f"{now:%A}"},
    )


def clock_tools() -> list[Tool]:
    return [
        builtin_tool(
            "datetime.now",
            "The current date and time (ISO 8601) in a time zone; UTC by default.",
            RiskLevel.NONE,
            DatetimeNowArguments,
            datetime_now,
        )
    ]
