"""The host programs the sandbox needs, and the bwrap command line that shows the sandboxed
process only read-only system files, a minimal /etc and its own tmpfs work dir."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sophon.runtime.sandbox.spec import SandboxSpec

WORK_DIR = "/work"
SANDBOX_UID = 1000
SANDBOX_GID = 1000
SANDBOX_HOSTNAME = "sandbox"
# The outer uid a root Gateway drops to: random per run, so RLIMIT_NPROC (never enforced for
# uid 0) applies, and concurrent sandboxes never share a process count.
_OUTER_UID_BASE = 1_000_000_000
_OUTER_UID_SPAN = 1_000_000_000

_PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3")
_PRLIMIT_CANDIDATES = ("/usr/bin/prlimit", "/bin/prlimit")
_SHELL = "/bin/sh"
_ROOT_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# /etc is not bound whole (it holds host accounts, keys and service configs). Only what the
# loader, Debian's /usr/bin/* -> /etc/alternatives links and the system Python read.
_ETC_SYSTEM = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime")
_ETC_NETWORK = ("/etc/resolv.conf", "/etc/ssl/certs")
_ETC_GENERATED: Mapping[str, bytes] = {
    "/etc/passwd": (
        f"sandbox:x:{SANDBOX_UID}:{SANDBOX_GID}:sandbox:{WORK_DIR}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ).encode(),
    "/etc/group": f"sandbox:x:{SANDBOX_GID}:\nnogroup:x:65534:\n".encode(),
    "/etc/hosts": (
        f"127.0.0.1 localhost {SANDBOX_HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n"
    ).encode(),
    "/etc/nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files dns\n",
}
_BASE_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": WORK_DIR,
    "TMPDIR": "/tmp",  # noqa: S108 - inside the sandbox /tmp is a link to the private work dir
    "USER": "sandbox",
    "LOGNAME": "sandbox",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}


@dataclass(frozen=True, slots=True)
class HostTools:
    """Absolute host paths of the programs a run uses; python is None when there is no
    system interpreter reachable through the read-only /usr bind."""

    bwrap: str
    prlimit: str
    python: str | None
    setpriv: str | None = None  # needed (and found) only when the Gateway runs as root


@dataclass(slots=True)
class PreparedCommand:
    """A bwrap argv plus the memfds it reads its generated files from; close() after spawn."""

    argv: list[str]
    stdin_fd: int
    data_fds: list[int] = field(default_factory=list)

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return tuple(self.data_fds)

    def close(self) -> None:
        for fd in [self.stdin_fd, *self.data_fds]:
            os.close(fd)
        self.data_fds.clear()


def find_tools() -> HostTools | str:
    """The host programs, or why the sandbox cannot run here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    prlimit = next((p for p in _PRLIMIT_CANDIDATES if os.access(p, os.X_OK)), None)
    if prlimit is None:
        return "prlimit (util-linux) was not found under /usr/bin"
    if not os.access(_SHELL, os.X_OK):
        return f"{_SHELL} was not found"
    setpriv = None
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return "setpriv (util-linux) is needed to run bwrap unprivileged when root"
    return HostTools(bwrap=bwrap, prlimit=prlimit, python=find_system_python(), setpriv=setpriv)


def find_system_python() -> str | None:
    """A system Python 3 whose real file lives under /usr (a venv's python must not be used)."""
    for candidate in _PYTHON_CANDIDATES:
        real = os.path.realpath(candidate)
        if real.startswith("/usr/") and os.access(real, os.X_OK):
            return candidate
    return None


def command_for(spec: SandboxSpec, tools: HostTools) -> list[str] | None:
    """The argv run inside the sandbox, or None when the spec's language has no interpreter."""
    if spec.argv is not None:
        return list(spec.argv)
    name = spec.script_name()
    interpreter = tools.python if spec.language == "python" else _SHELL
    if name is None or interpreter is None:
        return None
    return [interpreter, f"{WORK_DIR}/{name}"]


def outer_identity(tools: HostTools) -> list[str]:
    """An argv prefix that runs bwrap itself unprivileged when the Gateway is root: a fresh
    unused uid and gid, no supplementary groups. (A prefix rather than subprocess's user/group
    arguments, which uvloop's subprocess support does not accept.)"""
    if os.geteuid() != 0 or tools.setpriv is None:
        return []
    uid = _OUTER_UID_BASE + secrets.randbelow(_OUTER_UID_SPAN)
    return [tools.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]


def prepare_command(spec: SandboxSpec, tools: HostTools, command: list[str]) -> PreparedCommand:
    """Write stdin and every generated file to memfds and build the bwrap argv around command.
    Blocking (memory copies): call it in a worker thread."""
    stdin_fd = (
        os.open(spec.stdin_path, os.O_RDONLY | os.O_CLOEXEC)
        if spec.stdin_path is not None
        else _memfd("stdin", spec.stdin)
    )
    prepared = PreparedCommand(argv=[], stdin_fd=stdin_fd)
    try:
        prepared.argv = [*outer_identity(tools), tools.bwrap]
        prepared.argv += [*_namespaces(spec.network), *_system_binds(spec.network)]
        for path, content in _ETC_GENERATED.items():
            fd = _data_fd(prepared, path, content)
            prepared.argv += ["--perms", "0644", "--ro-bind-data", str(fd), path]
        prepared.argv += ["--proc", "/proc", "--dev", "/dev"]
        prepared.argv += ["--perms", "0700", "--size", str(spec.limits.work_dir_bytes)]
        prepared.argv += ["--tmpfs", WORK_DIR]
        prepared.argv += list(_work_files(prepared, spec.work_files()))
        # /tmp is the work dir, unless a bind lies below /tmp (a checkout or virtualenv there):
        # then /tmp is a tmpfs of its own, as small, for the bind to sit in
        tmp_binds = any(PurePosixPath(inside).is_relative_to("/tmp") for inside in spec.ro_binds)  # noqa: S108
        if tmp_binds:
            prepared.argv += ["--perms", "0700", "--size", str(spec.limits.work_dir_bytes)]
            prepared.argv += ["--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's own /tmp
        for inside, host in spec.ro_binds.items():  # after the work dir: may lie under it
            prepared.argv += ["--ro-bind", host, inside]
        if not tmp_binds:
            prepared.argv += ["--symlink", WORK_DIR, "/tmp"]  # noqa: S108 - the sandbox's own /tmp
        prepared.argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK_DIR]
        prepared.argv += ["--clearenv", *_environment(spec.env), "--"]
        prepared.argv += [*_limits(tools.prlimit, spec), "--", *command]
    except BaseException:
        prepared.close()
        raise
    return prepared


def _namespaces(network: bool) -> list[str]:
    argv = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    argv += ["--hostname", SANDBOX_HOSTNAME]
    return [*argv, "--share-net"] if network else argv


def _system_binds(network: bool) -> Iterator[str]:
    yield from ("--ro-bind", "/usr", "/usr")
    for name in _ROOT_ENTRIES:
        path = f"/{name}"
        if os.path.islink(path):
            yield from ("--symlink", os.readlink(path), path)
        elif os.path.isdir(path):
            yield from ("--ro-bind", path, path)
    etc = [*_ETC_SYSTEM, *sorted(glob.glob("/etc/python3*"))]
    for path in [*etc, *(_ETC_NETWORK if network else ())]:
        yield from ("--ro-bind-try", path, path)


def _work_files(prepared: PreparedCommand, files: Mapping[str, bytes]) -> Iterator[str]:
    directories = {
        str(parent)
        for path in files
        for parent in PurePosixPath(path).parents
        if str(parent) != "."
    }
    for directory in sorted(directories, key=lambda d: (d.count("/"), d)):
        yield from ("--dir", f"{WORK_DIR}/{directory}")
    for path, content in files.items():
        fd = _data_fd(prepared, path, content)
        yield from ("--perms", "0644", "--file", str(fd), f"{WORK_DIR}/{path}")


def _environment(extra: Mapping[str, str]) -> Iterator[str]:
    for name, value in {**_BASE_ENV, **extra}.items():
        yield from ("--setenv", name, value)


def _limits(prlimit: str, spec: SandboxSpec) -> list[str]:
    limits = spec.limits
    return [
        prlimit,
        f"--as={limits.memory_bytes}",
        # SIGXCPU at the soft limit; SIGKILL a second later for a process that ignores it.
        f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 1}",
        f"--nproc={limits.max_processes}",
        f"--nofile={limits.max_open_files}",
        "--core=0",
    ]


def _data_fd(prepared: PreparedCommand, name: str, content: bytes) -> int:
    fd = _memfd(name, content)
    prepared.data_fds.append(fd)
    return fd


def _memfd(name: str, content: bytes) -> int:
    fd = os.memfd_create(f"sophon-sandbox:{name}"[:240])
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
