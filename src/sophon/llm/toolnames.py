"""Reversible mapping between Sophon tool names (dotted) and wire tool names
(`^[a-zA-Z0-9_-]{1,64}$`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_WIRE_NAME = 64
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


def encode_tool_name(name: str) -> str:
    """`memory.search` -> `memory__search`. Other characters the wire refuses become `_`, and a
    name that would exceed 64 characters (or is empty) is shortened with a hash suffix so two
    long names stay distinct. Only the dot rule is reversible by itself; `ToolNameMap` remembers
    the rest."""
    wire = _INVALID.sub("_", name.replace(".", "__"))
    if wire and len(wire) <= MAX_WIRE_NAME:
        return wire
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{wire[: MAX_WIRE_NAME - len(digest) - 1]}_{digest}"


def decode_tool_name(wire: str) -> str:
    return wire.replace("__", ".")


class ToolNameMap:
    """The names of one request: encodes outgoing names and maps incoming wire names back to
    exactly the Sophon names offered (or named in history); unknown names fall back to the dot
    rule so a made-up tool name still reaches the loop, which refuses it."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._to_wire: dict[str, str] = {}
        self._from_wire: dict[str, str] = {}
        for name in names:
            self.encode(name)

    def encode(self, name: str) -> str:
        wire = self._to_wire.get(name)
        if wire is None:
            wire = encode_tool_name(name)
            if self._from_wire.get(wire, name) != name:  # two names met on one wire name
                wire = encode_tool_name(name + "\0")
            self._to_wire[name] = wire
            self._from_wire[wire] = name
        return wire

    def decode(self, wire: str) -> str:
        return self._from_wire.get(wire) or decode_tool_name(wire)
