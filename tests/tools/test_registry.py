from __future__ import annotations

from typing import Any

import pytest

from sophon.tools.registry import RiskLevel, Tool, ToolRegistry, UnknownTools


async def _noop(_context: Any, _arguments: dict[str, Any]) -> None:
    return None


def _tool(name: str, risk: RiskLevel = RiskLevel.NONE) -> Tool:
    return Tool(
        name=name, description=name, parameters={"type": "object"}, risk=risk, handler=_noop
    )


def test_allowlists_expand_exact_names_and_family_globs() -> None:
    registry = ToolRegistry([_tool("memory.search"), _tool("memory.write"), _tool("web.fetch")])
    assert registry.expand(["memory.*"]) == ["memory.search", "memory.write"]
    assert registry.expand(["web.fetch", "memory.search", "web.fetch"]) == [
        "memory.search",
        "web.fetch",
    ]
    assert registry.expand([]) == []


def test_entries_matching_nothing_are_all_named() -> None:
    registry = ToolRegistry([_tool("web.fetch")])
    with pytest.raises(UnknownTools) as caught:
        registry.expand(["web.fetch", "web.nope", "mail.*", "*", "web.f*"])
    assert caught.value.patterns == ["web.nope", "mail.*", "*", "web.f*"]


def test_names_must_be_dotted_and_unique() -> None:
    with pytest.raises(ValueError, match="dotted"):
        _tool("Fetch")
    registry = ToolRegistry([_tool("web.fetch")])
    with pytest.raises(ValueError, match="twice"):
        registry.register(_tool("web.fetch"))


def test_risk_levels_are_ordered() -> None:
    assert RiskLevel.HIGH.at_least(RiskLevel.MEDIUM)
    assert not RiskLevel.LOW.at_least(RiskLevel.MEDIUM)
    assert [r.rank for r in RiskLevel] == [0, 1, 2, 3, 4]
