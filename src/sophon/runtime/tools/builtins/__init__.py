"""The Gateway's built-in tools."""

from __future__ import annotations

from sophon.runtime.tools.registry import Tool
from sophon.settings import Settings


def builtin_tools(settings: Settings) -> list[Tool]:
    """Every built-in tool this Gateway offers under these settings."""
    del settings
    return []
