"""Runs the extraction child on an untrusted file with CPU, memory and time limits: inside the
bubblewrap sandbox (no network, no host files, read-only libraries) where it works, otherwise
as a plain child process under the same `prlimit` limits. The Gateway only reads its JSON."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sophon
from sophon.runtime.sandbox import SandboxLimits, SandboxSpec, run_sandboxed, sandbox_status
from sophon.runtime.sandbox.layout import find_system_python

MIB = 1024 * 1024
CHILD = "sophon.documents.child"
MAX_OUTPUT = 64 * MIB


@dataclass(frozen=True)
class ChildLimits:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    max_pages: int
    max_chars: int
    max_unzipped_bytes: int

    def for_child(self) -> str:
        return json.dumps(
            {
                "max_pages": self.max_pages,
                "max_chars": self.max_chars,
                "max_unzipped_bytes": self.max_unzipped_bytes,
            }
        )


def _library_paths() -> list[str]:
    """Where the child's imports come from: this package's source root and the site dirs."""
    root = str(Path(sophon.__file__).resolve().parent.parent)
    sites = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
    return list(dict.fromkeys([root, *sites]))


def _reachable(path: str) -> bool:
    """Readable by any user (the sandbox runs as an unprivileged uid), every parent traversable."""
    current = Path(path)
    try:
        if not current.stat().st_mode & stat.S_IROTH:
            return False
        for parent in [current, *current.parents]:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    return True


def _sandbox_python(paths: list[str]) -> str | None:
    """The system Python, when the sandbox works and it can load this Gateway's libraries
    (same minor version, world-readable library directories)."""
    status = sandbox_status()
    python = find_system_python()
    if not status.available or python is None:
        return None
    real = os.path.realpath(python)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not os.path.basename(real).startswith(version):
        return None
    return python if all(_reachable(p) for p in paths) else None


_mode: dict[str, str | None] = {}


async def mode() -> str:
    """`sandbox` or `process` (reported by the document's metadata and `sophon doctor`)."""
    if "python" not in _mode:
        _mode["python"] = await asyncio.to_thread(_sandbox_python, _library_paths())
    return "sandbox" if _mode["python"] else "process"


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


def _answer(exit_code: int | None, out: bytes, err: bytes, killed: str | None) -> dict[str, Any]:
    if killed == "timeout":
        return _failure("extraction_timeout", "Extraction took longer than allowed.")
    if killed == "cpu" or exit_code in (128 + signal.SIGXCPU, -signal.SIGXCPU, -signal.SIGKILL):
        return _failure("extraction_timeout", "Extraction used more CPU time than allowed.")
    if killed == "memory" or b"MemoryError" in err[-4096:]:
        return _failure("too_large", "Extraction needs more memory than allowed.")
    if killed == "output":
        return _failure("too_large", "The extracted text is larger than allowed.")
    try:
        answer: dict[str, Any] = json.loads(out)
    except ValueError:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return _failure("unsupported_type", f"The extractor failed: {tail[0][:300]}")
    return answer


async def extract_file(path: Path, fmt: str, limits: ChildLimits) -> dict[str, Any]:
    """The child's answer for the file at `path` (see `extractors.extract`)."""
    paths = _library_paths()
    await mode()
    python = _mode["python"]
    env = {"PYTHONPATH": ":".join(paths), "OMP_THREAD_LIMIT": "1"}
    argv = ["-m", CHILD, fmt, limits.for_child()]
    if python is not None:
        spec = SandboxSpec(
            argv=[python, "-s", *argv],
            env=env,
            stdin_path=str(path),
            ro_binds={path: path for path in paths},
            limits=SandboxLimits(
                wall_seconds=limits.wall_seconds,
                cpu_seconds=limits.cpu_seconds,
                memory_bytes=limits.memory_bytes,
                max_output_bytes=MAX_OUTPUT,
                work_dir_bytes=64 * MIB,
            ),
        )
        result = await run_sandboxed(spec)
        return _answer(result.exit_code, result.stdout, result.stderr, result.killed_reason)
    return await _limited_process([sys.executable, "-s", *argv], path, env, limits)


async def _limited_process(
    command: list[str], path: Path, env: dict[str, str], limits: ChildLimits
) -> dict[str, Any]:
    prlimit = shutil.which("prlimit")
    prefix = (
        [
            prlimit,
            f"--as={limits.memory_bytes}",
            f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
            "--core=0",
            "--",
        ]
        if prlimit
        else []
    )
    env = {**env, "PATH": "/usr/local/bin:/usr/bin:/bin"}
    with path.open("rb") as stdin:
        process = await asyncio.create_subprocess_exec(
            *prefix,
            *command,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd="/",
            start_new_session=True,
        )
    try:
        out, err = await asyncio.wait_for(process.communicate(), limits.wall_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return _answer(None, b"", b"", "timeout")
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        raise
    return _answer(process.returncode, out, err, None)
