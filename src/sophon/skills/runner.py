"""Running one skill tool call: the skill's files in a fresh bubblewrap sandbox with the
manifest's limits; the call `{tool, arguments, credentials}` on stdin as JSON, the result
`{content, isError?}` on stdout as JSON. A crash, timeout, oversize output or invalid JSON is a
clear tool error. Credentials travel only on stdin (a memfd, never a file on disk) and are masked
in everything the run returns."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sophon.runtime.sandbox import SandboxLimits, SandboxSpec, SandboxUnavailable, run_sandboxed
from sophon.runtime.sandbox.spec import MIB
from sophon.skills.egress import RELAY
from sophon.skills.manifest import Manifest
from sophon.tools.invoke import ToolResult

SKILL_DIR = "skill"
MAX_STDOUT = 512 * 1024
STDERR_KEPT = 2000
MASK = "[redacted]"
_BOOTSTRAP = """\
import os, sys
os.chdir("/work/skill")
sys.path.insert(0, "/work/skill")
_entry = "/work/skill/" + {entry!r}
sys.argv = [_entry]
with open(_entry, "rb") as _source:
    _code = compile(_source.read(), _entry, "exec")
exec(_code, {{"__name__": "__main__", "__file__": _entry, "__builtins__": __builtins__}})
"""


@dataclass(frozen=True)
class Invocation:
    manifest: Manifest
    files: Mapping[str, bytes]
    tool: str
    arguments: Mapping[str, Any]
    credentials: Mapping[str, str] = field(default_factory=dict)
    wall_seconds: float | None = None  # the call's deadline, if shorter than the manifest's
    ro_binds: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    egress: bool = False  # an egress socket is bound in: start the in-sandbox relay


def spec_for(call: Invocation) -> SandboxSpec:
    manifest = call.manifest
    declared = next((t for t in manifest.tools if t.name == call.tool), None)
    wall = declared.timeout_seconds if declared and declared.timeout_seconds else None
    wall = wall or manifest.timeout_seconds
    if call.wall_seconds is not None:
        wall = min(wall, call.wall_seconds)
    wall = max(0.001, wall)
    payload = {"tool": call.tool, "arguments": dict(call.arguments)}
    stdin = json.dumps({**payload, "credentials": dict(call.credentials)}).encode()
    bootstrap = _BOOTSTRAP.format(entry=manifest.entrypoint or "main.py")
    if call.egress:
        bootstrap = "import os\n" + RELAY + bootstrap
    return SandboxSpec(
        script=bootstrap,
        language="python",
        stdin=stdin,
        files={f"{SKILL_DIR}/{path}": content for path, content in call.files.items()},
        env=dict(call.env),
        limits=SandboxLimits(
            wall_seconds=wall,
            cpu_seconds=max(1, min(manifest.cpu_seconds, math.ceil(wall) + 1)),
            memory_bytes=manifest.memory_mb * MIB,
            max_processes=48 if call.egress else 16,  # threads count too
            max_output_bytes=MAX_STDOUT,
        ),
        ro_binds=dict(call.ro_binds),
    )


async def invoke(call: Invocation) -> ToolResult:
    try:
        spec = spec_for(call)
        result = await run_sandboxed(spec)
    except SandboxUnavailable as exc:
        return ToolResult.error(exc.message, {"reason": "sandbox_unavailable"})
    secrets = [v for v in call.credentials.values() if len(v) >= 4]
    stdout = mask(result.stdout_text, secrets)
    stderr = mask(result.stderr_text, secrets)[-STDERR_KEPT:]
    data = {
        "skill": call.manifest.name,
        "version": call.manifest.version,
        "exitCode": result.exit_code,
        "killedReason": result.killed_reason,
        "stderr": stderr,
        "durationSeconds": round(result.duration_seconds, 3),
    }
    name = f"The skill tool {call.tool}"
    if result.killed_reason == "timeout":
        return _error(f"{name} timed out after {spec.limits.wall_seconds:g} s.", data, stderr)
    if result.killed_reason == "output":
        return _error(f"{name} wrote more than {MAX_STDOUT} bytes of output.", data, stderr)
    if result.killed_reason in ("cpu", "memory"):
        return _error(f"{name} ran out of its {result.killed_reason} limit.", data, stderr)
    if result.exit_code != 0:
        return _error(f"{name} crashed (exit code {result.exit_code}).", data, stderr)
    try:
        reply = json.loads(stdout)
    except ValueError:
        return _error(f"{name} did not answer with JSON on stdout.", data, stderr)
    if not isinstance(reply, dict) or "content" not in reply:
        return _error(f"{name} answered without a `content` field.", data, stderr)
    content = reply["content"]
    text = content if isinstance(content, str) else json.dumps(content)
    if stderr.strip():
        text += f"\n\n[stderr, last {STDERR_KEPT} characters]\n{stderr}"
    return ToolResult(content=text, data=data, is_error=bool(reply.get("isError")))


def mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def _error(message: str, data: dict[str, Any], stderr: str) -> ToolResult:
    if stderr.strip():
        message += f"\n[stderr, last {STDERR_KEPT} characters]\n{stderr}"
    return ToolResult.error(message, data)
