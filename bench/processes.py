"""Server processes for benchmarks: spawn on a free loopback port, wait for health, read RSS, stop.

Children run in their own session (a Ctrl+C reaches only the benchmark, which then stops them in
order) and get SIGKILL from the kernel if the benchmark itself dies without cleaning up."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

HOST = "127.0.0.1"
PASSWORD = "Bench-Password-123!"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def child_setup(cpus: frozenset[int] | None) -> Callable[[], None]:
    """The pre-exec hook: die with the parent, and run on the given CPUs when pinning is on."""

    def setup() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


def http_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """One HTTP/1.1 GET over a raw socket; the status code, or None when nothing answers."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return int(parts[1])


def rss_mb(pid: int) -> float:
    """Resident set size of a live process in MB (10^6 bytes), from VmRSS in /proc/<pid>/status
    (which counts in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a live process (all its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """A server process listening on `port`; ready once `health_path` answers 200."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        port: int,
        health_path: str = "/api/health",
        cpus: frozenset[int] | None = None,
    ) -> None:
        self.label = label
        self.argv = list(argv)
        self.env = env
        self.log_path = log_path
        self.port = port
        self.health_path = health_path
        self.cpus = cpus
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.label} is not running")
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> float:
        """Spawns the process; returns seconds from spawn until the health path answered 200."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=child_setup(self.cpus),  # safe: the benchmark runs no threads
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited early:\n{self.log_tail()}")
            if http_status(self.port, self.health_path) == 200:
                return time.perf_counter() - started
            time.sleep(0.005)
        self.stop()
        raise TimeoutError(f"{self.label} did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any `SOPHON_*` setting that could leak into a run, and
    without `PYTHONDONTWRITEBYTECODE`: an installed Gateway starts from compiled bytecode (pip
    writes it), so servers here cache theirs too (in `__pycache__`, ignored by git); with it set,
    every start recompiled our ~200 modules, about 0.2 s of CPU."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SOPHON_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(extra)
    return env


def first_admin_token(server: ServerProcess) -> str:
    """Creates a fresh Gateway's first admin as a person would (the one-time setup token from its
    data dir) and returns the admin's access token. Blocking: from async code, use a thread."""
    import httpx  # the benchmarks that start no Gateway do not need it

    secret = Path(server.env["SOPHON_DATA"], "setup-token").read_text(encoding="utf-8").strip()
    setup = httpx.post(
        f"{server.url}/api/auth/setup",
        json={"setupToken": secret, "email": "bench@example.com", "password": PASSWORD,
              "displayName": "Bench"},
        timeout=30,
    )  # fmt: skip
    setup.raise_for_status()
    return str(setup.json()["accessToken"])
