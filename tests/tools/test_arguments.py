"""Arguments are checked against the tool's schema before any handler runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sophon.tools.invoke import (
    InvalidToolArguments,
    ToolContext,
    ToolResult,
    run_tool,
    validate_arguments,
)
from sophon.tools.registry import RiskLevel, Tool, ToolSource
from tests.tools.tool_helpers import registry, tool_settings


@pytest.mark.parametrize(
    ("name", "arguments", "problem"),
    [
        ("code.execute", {}, "code: Field required"),
        ("code.execute", {"code": "print(1)", "bogus": 1}, "bogus: Extra inputs are not permitted"),
        (
            "code.execute",
            {"code": "print(1)", "timeoutSeconds": "5"},
            "timeoutSeconds: Input should be a valid number",
        ),
        (
            "code.execute",
            {"code": "print(1)", "timeoutSeconds": 100000},
            "timeoutSeconds: Input should be less than or equal to 300",
        ),
        ("code.execute", {"code": "x", "timeout_seconds": 5}, "timeout_seconds: Extra inputs"),
        ("web.fetch", {"url": 42}, "url: Input should be a valid string"),
        (
            "web.fetch",
            {"url": "http://example.com", "maxBytes": 0},
            "maxBytes: Input should be greater than or equal to 1",
        ),
        ("datetime.now", ["UTC"], "(arguments): Input should be a valid dictionary"),
    ],
)
def test_bad_arguments_are_refused_with_a_message_naming_the_field(
    tmp_path: Path, name: str, arguments: Any, problem: str
) -> None:
    tool = registry(tool_settings(tmp_path)).get(name)
    assert tool is not None
    with pytest.raises(InvalidToolArguments) as caught:
        validate_arguments(tool, arguments)
    assert caught.value.message.startswith(f"Invalid arguments for {name}: ")
    assert problem in caught.value.message
    assert caught.value.details["tool"] == name


def test_valid_arguments_come_back_with_defaults_filled_in(tmp_path: Path) -> None:
    tool = registry(tool_settings(tmp_path)).get("os.execute_sandboxed")
    assert tool is not None
    assert validate_arguments(tool, {"command": "ls"}) == {
        "command": "ls",
        "stdin": "",
        "timeoutSeconds": 30.0,
    }


async def test_run_tool_turns_bad_arguments_into_an_error_result_without_running(
    tmp_path: Path,
) -> None:
    ran: list[dict[str, Any]] = []

    async def handler(_context: Any, arguments: dict[str, Any]) -> ToolResult:
        ran.append(arguments)
        return ToolResult("ok")

    schema = {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
        "additionalProperties": False,
    }
    tool = Tool("skill.lookup", "d", schema, RiskLevel.LOW, handler, source=ToolSource.SKILL)
    context = ToolContext(tool_settings(tmp_path))
    for bad, problem in [
        ({}, "query: Field required"),
        ({"query": "q", "extra": 1}, "extra: Extra inputs are not permitted"),
        ({"query": "q", "limit": "3"}, "limit: Input should be of type integer"),
        ({"query": "q", "limit": True}, "limit: Input should be of type integer"),
    ]:
        result = await run_tool(tool, context, bad)
        assert result.is_error
        assert problem in result.content
    assert ran == []
    good = await run_tool(tool, context, {"query": "q", "limit": 3})
    assert (good.content, good.is_error, ran) == ("ok", False, [{"query": "q", "limit": 3}])
