"""The tool catalog: every tool has a dotted name (`family.action`), a description, a JSON Schema
for its arguments, a risk level, where it comes from, whether its arguments may be edited at
approval, and an async implementation. Allowlists name tools exactly or by `prefix.*` glob
(`memory.*`, `mcp.github.*`).

The catalog has two parts: the tools registered at start-up (built-ins, Gateway-wide), and
dynamic sources (`DynamicTools`) that answer per tenant (bridged MCP servers). `for_tenant`
gives the merged view a turn, an allowlist or a listing of one tenant uses."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sophon.llm.base import ToolSpec

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
BRIDGED_PATTERN = re.compile(r"^mcp\.[a-z0-9][a-z0-9_-]{0,39}\.[A-Za-z0-9_.-]+$")
"""`mcp.<server>.<tool>`: the tool part keeps the characters MCP tool names use."""
MAX_NAME = 128
GLOB_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)*\.\*$")


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
    result_source: str | None = None
    """The `source` its results carry in the external-content wrapper (e.g. `Document`);
    None: the default of its name (`wrapper_source`). The runtime keeps it with each result."""

    def __post_init__(self) -> None:
        pattern = BRIDGED_PATTERN if self.source is ToolSource.MCP else NAME_PATTERN
        if len(self.name) > MAX_NAME or not pattern.match(self.name):
            raise ValueError(f"tool names are dotted lowercase (family.action): {self.name!r}")

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @cached_property
    def spec(self) -> ToolSpec:
        """What a model request offers of the tool; one per tool, so its wire JSON is kept."""
        from sophon.llm.base import ToolSpec  # the model client loads after the start

        return ToolSpec(self.name, self.description, self.parameters)

    @cached_property
    def offered_text(self) -> str:
        """The tool as a model request offers it (name, description, schema), for estimating
        its tokens: made once per tool, not per step of every turn."""
        return f"{self.name} {self.description} {self.parameters}"

    @cached_property
    def ranking_words(self) -> frozenset[str]:
        """The words of its name and description, matched against a turn's query to pick the
        tools a request offers."""
        return frozenset(ranking_words(f"{self.name} {self.description}"))


def ranking_words(text: str) -> set[str]:
    """The words of `text` that rank tools against it: lowercase, longer than two letters."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def wrapper_source(tool_name: str) -> str:
    """The default wrapper source of a tool's results: `mcp:<server>` for a bridged MCP tool,
    else `tool:<name>`."""
    if tool_name.startswith("mcp."):
        return f"mcp:{tool_name.split('.')[1]}"
    return f"tool:{tool_name}"


class UnknownTools(ValueError):
    def __init__(self, patterns: list[str]) -> None:
        super().__init__(f"no tool matches {', '.join(patterns)}")
        self.patterns = patterns


class DynamicTools(Protocol):
    """A source of tools that come and go at run time, per tenant (e.g. bridged MCP servers).
    Its names must not collide with registered ones (a bridged name starts with `mcp.`)."""

    def tools_for(self, tenant_id: str) -> Iterable[Tool]: ...


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._registered: dict[str, Tool] = {}
        self._sources: list[DynamicTools] = []
        self._on_first_use: Callable[[], Iterable[Tool]] | None = None
        for tool in tools:
            self.register(tool)

    def register_on_first_use(self, tools: Callable[[], Iterable[Tool]]) -> None:
        """Registers these tools when the catalog is first read or changed, so their modules
        (the built-in tools reach most domains) load after start-up instead of during it."""
        self._on_first_use = tools

    @property
    def _tools(self) -> dict[str, Tool]:
        if self._on_first_use is not None:
            tools, self._on_first_use = self._on_first_use, None
            for tool in tools():
                self.register(tool)
        return self._registered

    def add_source(self, source: DynamicTools) -> None:
        self._sources.append(source)

    def for_tenant(self, tenant_id: str | None) -> ToolRegistry:
        """This catalog plus the tenant's dynamic tools, as a snapshot (a registered name wins
        over a dynamic one that would shadow it)."""
        if tenant_id is None or not self._sources:
            return self
        view = ToolRegistry()
        view._registered = dict(self._tools)
        for source in self._sources:
            for tool in source.tools_for(tenant_id):
                view._registered.setdefault(tool.name, tool)
        return view

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
        every entry that matches nothing (or isn't a name or `prefix.*` glob). A glob never
        grants skill tools: an agent gets those by name, when the skill is enabled for it."""
        granted: set[str] = set()
        unknown: list[str] = []
        for pattern in patterns:
            if GLOB_PATTERN.match(pattern):
                prefix = pattern[:-1]  # `mcp.github.*` -> every name starting `mcp.github.`
                matched = {
                    n
                    for n, t in self._tools.items()
                    if n.startswith(prefix) and t.source is not ToolSource.SKILL
                }
            else:
                matched = {pattern} if pattern in self._tools else set()
            if not matched:
                unknown.append(pattern)
            granted |= matched
        if unknown:
            raise UnknownTools(unknown)
        return sorted(granted)
