"""The bubblewrap sandbox, proven from outside: what runs, what it cannot see or reach, and the
limits that end it. Needs bwrap; skipped without it, except under CI where it must be present."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop

from sophon.platform.errors import InvalidRequest
from sophon.runtime.sandbox import (
    SandboxLimits,
    SandboxSpec,
    SandboxUnavailable,
    run_sandboxed,
    sandbox_available,
    sandbox_status,
)

MIB = 1024 * 1024
PROJECT_DIR = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"
STATUS = sandbox_status()
needs_sandbox = pytest.mark.skipif(
    not IN_CI and not STATUS.available,
    reason=f"sandbox unavailable here ({STATUS.reason}); CI installs bubblewrap",
)


def python(script: str, **kwargs: object) -> SandboxSpec:
    return SandboxSpec(script=script, language="python", **kwargs)  # type: ignore[arg-type]


@needs_sandbox
async def test_python_script_gets_stdin_files_and_reports_streams_and_exit_code() -> None:
    script = """
import os, sys
data = sys.stdin.read()
print("stdin:", data)
print("file:", open("inputs/greeting.txt").read())
print("bytes:", open("blob.bin", "rb").read().hex())
print("cwd:", os.getcwd(), "uid:", os.getuid())
print("to stderr", file=sys.stderr)
sys.exit(7)
"""
    spec = python(
        script,
        stdin=b"from the caller",
        files={"inputs/greeting.txt": "hello", "blob.bin": b"\x00\xff"},
    )
    result = await run_sandboxed(spec)
    assert result.exit_code == 7
    assert result.stdout_text.splitlines() == [
        "stdin: from the caller",
        "file: hello",
        "bytes: 00ff",
        "cwd: /work uid: 1000",
    ]
    assert result.stderr_text == "to stderr\n"
    assert result.killed_reason is None
    assert not result.timed_out
    assert not result.stdout_truncated
    assert not result.stderr_truncated


@needs_sandbox
async def test_shell_script_and_argv_run() -> None:
    shell = SandboxSpec(
        script='read line; echo "got $line"; cat notes.txt; echo oops >&2; exit 3',
        language="shell",
        stdin=b"abc\n",
        files={"notes.txt": "n1\n"},
    )
    result = await run_sandboxed(shell)
    assert (result.exit_code, result.stdout_text, result.stderr_text) == (
        3,
        "got abc\nn1\n",
        "oops\n",
    )

    argv = await run_sandboxed(SandboxSpec(argv=["python3", "-c", "print(6 * 7)"]))
    assert (argv.exit_code, argv.stdout_text) == (0, "42\n")


@needs_sandbox
async def test_both_streams_are_read_concurrently_in_full_below_the_cap() -> None:
    script = """
import sys
for i in range(300):
    sys.stdout.write("o" * 1023 + "\\n")
    sys.stderr.write("e" * 1023 + "\\n")
"""
    result = await run_sandboxed(python(script))
    assert result.exit_code == 0
    assert result.stdout == (b"o" * 1023 + b"\n") * 300
    assert result.stderr == (b"e" * 1023 + b"\n") * 300


async def _loopback_server() -> tuple[asyncio.Server, int, asyncio.Event]:
    connected = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        if await reader.readline() == b"ping\n":
            writer.write(b"pong\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, connected


CONNECT = """
import socket
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("127.0.0.1", {port}))
    s.sendall(b"ping\\n")
    print("reply:", s.makefile().readline().strip())
except OSError as exc:
    print("failed:", type(exc).__name__)
print("interfaces:", sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))
"""


@needs_sandbox
async def test_no_network_by_default_the_hosts_loopback_server_is_unreachable() -> None:
    server, port, connected = await _loopback_server()
    async with server:
        result = await run_sandboxed(python(CONNECT.format(port=port)))
    lines = result.stdout_text.splitlines()
    assert lines == ["failed: ConnectionRefusedError", "interfaces: ['lo']"]
    assert not connected.is_set()


@needs_sandbox
async def test_network_true_reaches_the_host_and_the_event_loop_keeps_serving() -> None:
    server, port, connected = await _loopback_server()
    async with server:
        result = await run_sandboxed(python(CONNECT.format(port=port), network=True))
    # "pong" could only come back if this loop served the request while the sandbox ran.
    assert result.stdout_text.splitlines()[0] == "reply: pong"
    assert connected.is_set()


@pytest.fixture
def jwt_key(tmp_path: Path) -> Path:
    """A secret in a Gateway-like data dir on the host."""
    key = tmp_path / "security" / "jwt.key"
    key.parent.mkdir()
    key.write_text("top-secret-signing-key")
    return key


@needs_sandbox
async def test_host_data_dir_env_secrets_and_system_secrets_are_invisible(
    jwt_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = jwt_key
    secret = "sk_live_do_not_leak_7f3a9c"
    monkeypatch.setenv("SOPHON_JWT_SECRET", secret)
    project_dir = PROJECT_DIR
    script = f"""
import glob, os
for path in [{str(key)!r}, {str(key.parent)!r}, {str(project_dir)!r}, "/root", "/home",
             "/etc/shadow", "/var", "/tmp/pytest-of-root", "/sys"]:
    print(path, os.path.exists(path))
print("environ:", sorted(os.environ))
dumps = b"".join(open(p, "rb").read() for p in glob.glob("/proc/[0-9]*/environ"))
print("secret in any process environ:", {secret.encode()!r} in dumps)
print("etc:", sorted(os.listdir("/etc")))
"""
    result = await run_sandboxed(python(script))
    assert result.exit_code == 0, result.stderr_text
    out = result.stdout_text
    assert "True" not in out.split("environ:")[0], out
    assert secret not in out
    assert "SOPHON_JWT_SECRET" not in out
    assert "secret in any process environ: False" in out
    assert "'shadow'" not in out.split("etc:")[1]


@needs_sandbox
async def test_filesystem_outside_the_work_dir_is_read_only() -> None:
    script = """
import os
for path in ["/usr/probe", "/etc/probe", "/probe", "/dev/probe", "/bin/probe", "/work/probe",
             "/tmp/probe"]:
    try:
        with open(path, "w") as f:
            f.write("x")
        print(path, "written")
    except OSError as exc:
        print(path, "refused", exc.strerror)
"""
    result = await run_sandboxed(python(script))
    written = {line.split()[0] for line in result.stdout_text.splitlines() if "written" in line}
    refused = {line.split()[0] for line in result.stdout_text.splitlines() if "refused" in line}
    sandbox_tmp = "/tmp/probe"  # noqa: S108 - the sandbox's own /tmp, a link to its work dir
    assert written == {"/work/probe", sandbox_tmp}
    assert refused == {"/usr/probe", "/etc/probe", "/probe", "/dev/probe", "/bin/probe"}


@needs_sandbox
async def test_wall_clock_timeout_kills_the_whole_sandbox_promptly() -> None:
    # The background sleeper holds stdout open: only a namespace-wide kill lets the run return.
    spec = SandboxSpec(
        script="echo started; (sleep 60 &); while :; do :; done",
        language="shell",
        limits=SandboxLimits(wall_seconds=1.0),
    )
    result = await run_sandboxed(spec)
    assert result.timed_out
    assert result.killed_reason == "timeout"
    assert result.exit_code is None
    assert result.stdout_text == "started\n"
    assert 1.0 <= result.duration_seconds < 4.0


@needs_sandbox
async def test_cancelling_the_caller_kills_the_sandbox() -> None:
    connected, closed = asyncio.Event(), asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # returns at EOF: the sandboxed peer is gone
        closed.set()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    script = (
        f"import socket, time\nconn = socket.create_connection(('127.0.0.1', {port}))\n"
        "time.sleep(60)"
    )
    async with server:
        run = asyncio.create_task(run_sandboxed(python(script, network=True)))
        await asyncio.wait_for(connected.wait(), timeout=10)
        run.cancel()
        await asyncio.wait_for(closed.wait(), timeout=5)  # would take 60 s if it lived on
        with pytest.raises(asyncio.CancelledError):
            await run


@needs_sandbox
async def test_cpu_limit_ends_a_busy_loop() -> None:
    spec = python("while True: pass", limits=SandboxLimits(cpu_seconds=1, wall_seconds=15))
    result = await run_sandboxed(spec)
    assert result.killed_reason == "cpu"
    assert not result.timed_out
    assert result.duration_seconds < 8.0


@needs_sandbox
async def test_memory_limit_refuses_a_gigabyte_but_allows_small_allocations() -> None:
    script = """
small = bytearray(16 * 1024 * 1024)
print("16 MiB ok")
big = bytearray(1024 * 1024 * 1024)
print("1 GiB ok")
"""
    result = await run_sandboxed(python(script, limits=SandboxLimits(memory_bytes=128 * MIB)))
    assert result.stdout_text == "16 MiB ok\n"
    assert result.killed_reason == "memory"
    assert result.exit_code == 1
    assert "MemoryError" in result.stderr_text


@needs_sandbox
async def test_process_limit_bounds_a_fork_loop() -> None:
    # Bounded by the test itself (200 tries), so a broken limit cannot take the machine down;
    # the children die with the sandbox's pid namespace when the parent exits.
    script = """
import os, time
started = failed = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        failed += 1
        continue
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    started += 1
print(started, failed)
"""
    result = await run_sandboxed(python(script, limits=SandboxLimits(max_processes=16)))
    started, failed = map(int, result.stdout_text.split())
    assert 1 <= started < 16
    assert started + failed == 200
    assert result.duration_seconds < 10


@needs_sandbox
async def test_output_past_the_cap_is_truncated_flagged_and_killed() -> None:
    script = "import sys\nsys.stderr.write('small\\n')\nwhile True: sys.stdout.write('x' * 8192)\n"
    result = await run_sandboxed(python(script, limits=SandboxLimits(max_output_bytes=64 * 1024)))
    assert result.stdout == b"x" * 64 * 1024
    assert result.stdout_truncated
    assert not result.stderr_truncated
    assert result.stderr == b"small\n"
    assert result.killed_reason == "output"
    assert result.exit_code is None


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ran-unsandboxed"
    yield path
    assert not path.exists(), "the code ran outside the sandbox"


async def test_missing_bwrap_is_reported_and_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    status = sandbox_status()
    assert not status.available
    assert "bwrap" in status.reason
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        await run_sandboxed(python(f"open({str(marker)!r}, 'w').write('x')"))


@pytest.fixture
def failing_bwrap_dir() -> Iterator[Path]:
    """A bwrap stand-in that fails like one that cannot create namespaces; world-executable,
    because a root caller runs it as an unprivileged uid."""
    directory = Path(tempfile.mkdtemp(prefix="sophon-fake-bwrap-"))
    directory.chmod(0o755)
    fake = directory / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IROTH)
    yield directory
    shutil.rmtree(directory)


async def test_bwrap_that_cannot_create_namespaces_is_reported_and_nothing_runs(
    failing_bwrap_dir: Path, monkeypatch: pytest.MonkeyPatch, marker: Path
) -> None:
    monkeypatch.setenv("PATH", f"{failing_bwrap_dir}:/usr/bin:/bin")
    assert not sandbox_available()
    assert "No permissions to create new namespace" in sandbox_status().reason
    with pytest.raises(SandboxUnavailable, match="No permissions"):
        await run_sandboxed(python(f"open({str(marker)!r}, 'w').write('x')"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"argv": ["true"], "script": "x", "language": "shell"}, "either argv or a script"),
        ({"script": "print(1)"}, "needs a language"),
        ({"argv": []}, "non-empty"),
        ({"argv": ["true"], "files": {"../escape": "x"}}, "plain relative path"),
        ({"argv": ["true"], "files": {"/etc/passwd": "x"}}, "plain relative path"),
        ({"script": "", "language": "python", "files": {"main.py": "x"}}, "reserved"),
        ({"argv": ["true"], "env": {"BAD-NAME": "x"}}, "environment variable"),
    ],
)
def test_invalid_specs_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        SandboxSpec(**kwargs)  # type: ignore[arg-type]


def test_limits_out_of_range_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="memory_bytes"):
        SandboxLimits(memory_bytes=1024)


@needs_sandbox
def test_the_sandbox_runs_under_uvloop_as_sophon_serve_does() -> None:
    """`sophon serve` runs on uvloop, whose subprocess support refuses some of asyncio's
    arguments; the sandbox must start there too."""
    result = uvloop.run(run_sandboxed(python("import os; print(os.getuid())")))
    assert result.exit_code == 0
    assert result.stdout_text == "1000\n"
