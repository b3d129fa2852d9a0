"""`code.execute` (Python) and `os.execute_sandboxed` (a shell command), both run in the bwrap
sandbox with no network; without a working sandbox they are unavailable, never run on the host."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from sophon.runtime.sandbox import (
    SandboxLimits,
    SandboxResult,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
    sandbox_status,
)
from sophon.tools.invoke import ToolArguments, ToolContext, ToolResult, builtin_tool
from sophon.tools.registry import RiskLevel, Tool

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_TIMEOUT_SECONDS = 300.0
MAX_SOURCE_CHARS = 256 * 1024
MAX_STDIN_CHARS = 1024 * 1024


class CodeExecuteArguments(ToolArguments):
    code: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="Python 3 source.")
    stdin: str = Field("", max_length=MAX_STDIN_CHARS, description="Text fed to standard input.")
    timeout_seconds: float = Field(
        DEFAULT_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS, description="Wall-clock limit."
    )


class SandboxedCommandArguments(ToolArguments):
    command: str = Field(
        min_length=1, max_length=MAX_SOURCE_CHARS, description="A /bin/sh command line."
    )
    stdin: str = Field("", max_length=MAX_STDIN_CHARS, description="Text fed to standard input.")
    timeout_seconds: float = Field(
        DEFAULT_TIMEOUT_SECONDS, gt=0, le=MAX_TIMEOUT_SECONDS, description="Wall-clock limit."
    )


def sandbox_unavailable_reason() -> str | None:
    """Why sandboxed tools can't run here, or None. Blocking (probes bwrap once)."""
    status = sandbox_status()
    return None if status.available else status.reason


def python_unavailable_reason() -> str | None:
    status = sandbox_status()
    if not status.available:
        return status.reason
    if status.tools is None or status.tools.python is None:
        return "no system Python 3 under /usr is reachable inside the sandbox"
    return None


def limits_for(context: ToolContext, timeout_seconds: float) -> SandboxLimits:
    wall = max(0.001, context.bounded(timeout_seconds))
    return SandboxLimits(wall_seconds=wall, cpu_seconds=max(1, math.ceil(wall)))


async def code_execute(context: ToolContext, arguments: CodeExecuteArguments) -> ToolResult:
    spec = SandboxSpec(
        script=arguments.code,
        language="python",
        stdin=arguments.stdin.encode(),
        limits=limits_for(context, arguments.timeout_seconds),
    )
    return await _run(spec)


async def execute_sandboxed(
    context: ToolContext, arguments: SandboxedCommandArguments
) -> ToolResult:
    spec = SandboxSpec(
        script=arguments.command,
        language="shell",
        stdin=arguments.stdin.encode(),
        limits=limits_for(context, arguments.timeout_seconds),
    )
    return await _run(spec)


async def _run(spec: SandboxSpec) -> ToolResult:
    try:
        result = await run_sandboxed(spec)
    except SandboxUnavailable as exc:
        return ToolResult.error(exc.message, {"reason": "sandbox_unavailable"})
    return execution_result(result, spec.limits.wall_seconds)


def execution_result(result: SandboxResult, wall_seconds: float) -> ToolResult:
    """The run as the model reads it. A non-zero exit is a normal result; only a run the
    limits ended is an error."""
    data: Mapping[str, Any] = {
        "exitCode": result.exit_code,
        "stdout": result.stdout_text,
        "stderr": result.stderr_text,
        "timedOut": result.timed_out,
        "killedReason": result.killed_reason,
        "stdoutTruncated": result.stdout_truncated,
        "stderrTruncated": result.stderr_truncated,
        "durationSeconds": round(result.duration_seconds, 3),
    }
    return ToolResult(
        content=format_execution(
            exit_code=result.exit_code,
            stdout=result.stdout_text,
            stderr=result.stderr_text,
            killed_reason=result.killed_reason,
            wall_seconds=wall_seconds,
            truncated=result.stdout_truncated or result.stderr_truncated,
        ),
        data=data,
        is_error=result.killed_reason is not None,
    )


_KILLED = {
    "timeout": "killed: it ran past its {wall:g} s time limit",
    "cpu": "killed: it used up its CPU time limit",
    "memory": "stopped: it ran out of its memory limit",
    "output": "killed: it wrote more output than allowed",
}


def format_execution(
    *,
    exit_code: int | None,
    stdout: str,
    stderr: str,
    killed_reason: str | None,
    wall_seconds: float,
    truncated: bool,
) -> str:
    lines = [f"exit code: {'none' if exit_code is None else exit_code}"]
    if killed_reason:
        lines.append(_KILLED.get(killed_reason, killed_reason).format(wall=wall_seconds))
    if truncated:
        lines.append("output truncated")
    lines += [
        "stdout:",
        stdout.rstrip("\n") or "(empty)",
        "stderr:",
        stderr.rstrip("\n") or "(empty)",
    ]
    return "\n".join(lines)


def sandboxed_tools() -> list[Tool]:
    return [
        builtin_tool(
            "code.execute",
            "Run Python 3 code in an isolated sandbox (no network, no host files, time and "
            "memory limits) and return its exit code, stdout and stderr.",
            RiskLevel.HIGH,
            CodeExecuteArguments,
            code_execute,
            unavailable=python_unavailable_reason,
            editable_at_approval=True,
        ),
        builtin_tool(
            "os.execute_sandboxed",
            "Run a shell command in an isolated sandbox (no network, no host files, time and "
            "memory limits) and return its exit code, stdout and stderr.",
            RiskLevel.HIGH,
            SandboxedCommandArguments,
            execute_sandboxed,
            unavailable=sandbox_unavailable_reason,
            editable_at_approval=True,
        ),
    ]
