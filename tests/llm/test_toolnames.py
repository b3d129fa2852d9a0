"""Tool names: dotted Sophon names to wire-safe names and back."""

from __future__ import annotations

import re

from sophon.llm.toolnames import ToolNameMap, decode_tool_name, encode_tool_name

WIRE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def test_dots_round_trip_without_a_map() -> None:
    assert encode_tool_name("memory.search") == "memory__search"
    assert decode_tool_name("memory__search") == "memory.search"
    assert encode_tool_name("web-fetch_v2") == "web-fetch_v2"


def test_odd_and_long_names_are_wire_safe_and_distinct() -> None:
    names = ["mcp:github/create issue", "a." * 40 + "x", "a." * 40 + "y", ""]
    wires = [encode_tool_name(n) for n in names]
    assert all(WIRE.match(w) for w in wires), wires
    assert len(set(wires)) == len(wires)


def test_map_reverses_lossy_names_and_collisions() -> None:
    names = ToolNameMap(["a.b", "a__b", "mcp:github/issue", "x" * 80])
    wires = [names.encode(n) for n in ["a.b", "a__b", "mcp:github/issue", "x" * 80]]
    assert len(set(wires)) == 4
    assert all(WIRE.match(w) for w in wires)
    assert [names.decode(w) for w in wires] == ["a.b", "a__b", "mcp:github/issue", "x" * 80]
    assert names.decode("never__offered") == "never.offered"
