"""What a sandboxed run is asked to do (spec and limits) and what it reports back (result)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Literal

from sophon.platform.errors import InvalidRequest

Language = Literal["python", "shell"]
KilledReason = Literal["timeout", "memory", "cpu", "output"]

MIB = 1024 * 1024
SCRIPT_NAMES: Mapping[Language, str] = {"python": "main.py", "shell": "main.sh"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_FILES = 1000


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Resource ceilings; every one is enforced by the kernel or by the supervisor."""

    wall_seconds: float = 30.0
    cpu_seconds: int = 10
    memory_bytes: int = 256 * MIB  # address space of each process (RLIMIT_AS)
    max_processes: int = 32  # processes of the sandbox user, counted inside its namespace
    max_output_bytes: int = 1 * MIB  # per stream; the run is killed past it
    work_dir_bytes: int = 64 * MIB  # size of the tmpfs work dir (also holds the given files)
    max_open_files: int = 256

    def __post_init__(self) -> None:
        checks = {
            "wall_seconds": 0 < self.wall_seconds <= 3600,
            "cpu_seconds": 1 <= self.cpu_seconds <= 3600,
            "memory_bytes": 32 * MIB <= self.memory_bytes <= 64 * 1024 * MIB,
            "max_processes": 1 <= self.max_processes <= 4096,
            "max_output_bytes": 1 <= self.max_output_bytes <= 64 * MIB,
            "work_dir_bytes": 1 * MIB <= self.work_dir_bytes <= 4 * 1024 * MIB,
            "max_open_files": 16 <= self.max_open_files <= 65536,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidRequest(f"Sandbox limits out of range: {', '.join(bad)}.")


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    """Either `argv`, or a `script` in a `language`; `files` are placed in the work dir."""

    argv: Sequence[str] | None = None
    script: str | None = None
    language: Language | None = None
    stdin: bytes = b""
    files: Mapping[str, bytes | str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    network: bool = False
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    stdin_path: str | None = None
    """A host file given as stdin instead of `stdin` (opened by the Gateway, never bound: the
    sandbox sees the open file, not the path; a regular file, so the process can seek it)."""
    ro_binds: Mapping[str, str] = field(default_factory=dict)
    """Host files or folders shown read-only inside, by sandbox path (e.g. the ruff binary of the
    bundled code.lint under /opt/, or a library folder at its own path); only for what the
    Gateway itself provides."""

    def __post_init__(self) -> None:
        # Private read-only copies: what was validated is exactly what runs.
        if self.argv is not None and not isinstance(self.argv, str):
            object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        object.__setattr__(self, "ro_binds", MappingProxyType(dict(self.ro_binds)))
        _check_command(self)
        _check_binds(self.ro_binds)
        _check_env(self.env)
        _check_files(self)

    def script_name(self) -> str | None:
        """The work-dir file the script is written to, when the spec carries one."""
        return SCRIPT_NAMES[self.language] if self.script is not None and self.language else None

    def work_files(self) -> dict[str, bytes]:
        """Every file to create in the work dir (the script included), by relative path."""
        placed = {path: _as_bytes(content) for path, content in self.files.items()}
        name = self.script_name()
        if name is not None and self.script is not None:
            placed[name] = self.script.encode()
        return placed


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """How the run ended. `exit_code` is None when the supervisor killed it (timeout/output);
    a process ended by a signal inside the sandbox reports 128 + the signal number."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    duration_seconds: float
    timed_out: bool
    killed_reason: KilledReason | None
    stdout_truncated: bool
    stderr_truncated: bool

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


def _as_bytes(content: bytes | str) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _check_command(spec: SandboxSpec) -> None:
    if (spec.argv is None) == (spec.script is None):
        raise InvalidRequest("Give either argv or a script, not both and not neither.")
    if spec.argv is not None:
        if isinstance(spec.argv, str) or not spec.argv:
            raise InvalidRequest("argv must be a non-empty list of strings.")
        if any(not isinstance(arg, str) or "\0" in arg for arg in spec.argv):
            raise InvalidRequest("argv items must be strings without NUL bytes.")
        if spec.language is not None:
            raise InvalidRequest("language applies to scripts only.")
    elif spec.language not in SCRIPT_NAMES:
        raise InvalidRequest("A script needs a language: python or shell.")


def _check_env(env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name) or "\0" in value:
            raise InvalidRequest(f"Invalid environment variable {name!r}.")


def _check_binds(binds: Mapping[str, str]) -> None:
    for inside, host in binds.items():
        path = PurePosixPath(inside)
        if not path.is_absolute() or ".." in path.parts or not PurePosixPath(host).is_absolute():
            raise InvalidRequest(f"Invalid read-only bind {host!r} -> {inside!r}.")


def _check_files(spec: SandboxSpec) -> None:
    if len(spec.files) > _MAX_FILES:
        raise InvalidRequest(f"At most {_MAX_FILES} files may be placed in the work dir.")
    for raw in spec.files:
        path = PurePosixPath(raw)
        parts = raw.split("/")
        if (
            not raw
            or "\0" in raw
            or path.is_absolute()
            or any(part in {"", ".", ".."} for part in parts)
        ):
            raise InvalidRequest(f"Invalid work-dir file path {raw!r}: use a plain relative path.")
    name = spec.script_name()
    if name is not None and name in spec.files:
        raise InvalidRequest(f"{name} is reserved for the script.")
    directories = {str(parent) for raw in spec.files for parent in PurePosixPath(raw).parents}
    clashes = directories & set(spec.files)
    if clashes:
        raise InvalidRequest(f"Path used both as a file and a directory: {sorted(clashes)[0]!r}.")
    total = sum(len(content) for content in spec.work_files().values())
    if total > spec.limits.work_dir_bytes // 2:
        raise InvalidRequest("The files exceed half of the work dir's size limit.")
