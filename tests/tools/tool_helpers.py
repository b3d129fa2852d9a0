"""Shared pieces for the built-in tool tests: settings, a context, and a validated call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sophon.runtime.sandbox import sandbox_status
from sophon.settings import Settings
from sophon.tools.builtins import builtin_tools
from sophon.tools.invoke import ToolContext, ToolResult, validate_arguments
from sophon.tools.registry import ToolRegistry

IN_CI = os.environ.get("CI", "").lower() == "true"
STATUS = sandbox_status()
needs_sandbox = pytest.mark.skipif(
    not IN_CI and not STATUS.available,
    reason=f"sandbox unavailable here ({STATUS.reason}); CI installs bubblewrap",
)


def tool_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data=tmp_path / "data", migrate_on_start=False, **overrides)


def registry(settings: Settings) -> ToolRegistry:
    return ToolRegistry(builtin_tools(settings))


async def call(
    settings: Settings, name: str, arguments: dict[str, Any], context: ToolContext | None = None
) -> ToolResult:
    """Validate, then run the handler, as the agent runtime will."""
    tool = registry(settings).get(name)
    assert tool is not None, name
    result = await tool.handler(
        context or ToolContext(settings), validate_arguments(tool, arguments)
    )
    assert isinstance(result, ToolResult)
    return result
