"""The tool catalog: every tool has a dotted name (`family.action`), a description, a JSON Schema
for its arguments, a risk level, where it comes from, whether its arguments may be edited at
approval, and an async implementation. Allowlists name tools exactly or by `family.*` glob."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
GLOB_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.\*$")


class RiskLevel(StrEnum):
    NONE = "None"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"

    @property
    def rank(self) -> int:
        return list(RiskLevel).index(self)

    def at_least(self, other: RiskLevel) -> bool:
        return self.rank >= other.rank


class ToolSource(StrEnum):
    BUILTIN = "builtin"
    SKILL = "skill"
    MCP = "mcp"


ToolHandler = Callable[[Any, dict[str, Any]], Awaitable[Any]]
"""`handler(context, arguments) -> result`; the context type belongs to the agent runtime."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    risk: RiskLevel
    handler: ToolHandler
    source: ToolSource = ToolSource.BUILTIN
    editable_at_approval: bool = False
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    """Why the tool can't run here (e.g. no sandbox), or None when it can."""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"tool names are dotted lowercase (family.action): {self.name!r}")

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


class UnknownTools(ValueError):
    def __init__(self, patterns: list[str]) -> None:
        super().__init__(f"no tool matches {', '.join(patterns)}")
        self.patterns = patterns


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name} is registered twice")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> Tool | None:
        """Removes a tool (an uninstalled skill's); returns it, or None when it wasn't there."""
        return self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: t.name)

    def expand(self, patterns: Iterable[str]) -> list[str]:
        """The tool names an allowlist grants, in catalog order. Raises `UnknownTools` naming
        every entry that matches nothing (or isn't a name or `family.*` glob). A glob never
        grants skill tools: an agent gets those by name, when the skill is enabled for it."""
        granted: set[str] = set()
        unknown: list[str] = []
        for pattern in patterns:
            if GLOB_PATTERN.match(pattern):
                family = pattern[:-2]
                matched = {
                    n
                    for n, t in self._tools.items()
                    if t.family == family and t.source is not ToolSource.SKILL
                }
            else:
                matched = {pattern} if pattern in self._tools else set()
            if not matched:
                unknown.append(pattern)
            granted |= matched
        if unknown:
            raise UnknownTools(unknown)
        return sorted(granted)
