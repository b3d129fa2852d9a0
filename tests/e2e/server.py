"""Runs a real `sophon serve` process on a free loopback port for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx
import pytest

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""For a crash test whose PostgreSQL run would add nothing: the code it recovers through is the
same on both databases, and the database-specific parts (the queue's and cron's claims) have a
PostgreSQL crash test of their own (test_crash_recovery's first two, test_cron_crash)."""
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
BACKGROUND_STARTED = "background parts started"  # sophon.app's log line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sophon_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHON_")}
    env.update(SOPHON_DATA=str(data_dir), **extra)
    return env


class GatewayProcess:
    def __init__(self, data_dir: Path, database_url: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        extra = {"SOPHON_PORT": str(self.port), **env}
        if database_url:
            extra["SOPHON_DATABASE_URL"] = database_url
        self.env = sophon_env(data_dir, **extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = data_dir.parent / f"gateway-{self.port}.stderr"

    def start(self, timeout: float = 60.0) -> float:
        """Starts the process; returns seconds until `/api/health` answered. Returns once the
        parts that start just after (runtime, skills, webhooks) are up too, where the log says
        so: a test's first requests then do not share a loaded machine with their start."""
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sophon", "serve"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.stderr()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    answered = time.perf_counter() - started
                    self._wait_for_background(deadline)
                    return answered
            except httpx.TransportError:
                time.sleep(0.02)
        self.kill()
        raise TimeoutError(f"gateway did not answer within {timeout}s:\n{self.stderr()}")

    def _wait_for_background(self, deadline: float) -> None:
        if self.env.get("SOPHON_LOG_LEVEL", "INFO").upper() not in ("DEBUG", "INFO"):
            return  # the line is not logged
        assert self.proc is not None
        while BACKGROUND_STARTED not in self.stderr():
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.stderr()}")
            if time.perf_counter() > deadline:
                self.kill()
                raise TimeoutError(f"gateway did not finish starting:\n{self.stderr()}")
            time.sleep(0.02)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> GatewayProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.kill()


QUICK = {
    "SOPHON_TASK_LEASE_SECONDS": "3",
    "SOPHON_QUEUE_POLL_SECONDS": "0.2",
    "SOPHON_HEARTBEAT_ENABLED": "false",
    "SOPHON_RATE_LIMITS_ENABLED": "false",
    "SOPHON_OUTBOUND_ALLOW": "127.0.0.1",
    "SOPHON_ARGON2_MEMORY_KIB": "64",
    "SOPHON_ARGON2_TIME_COST": "1",
    "SOPHON_ARGON2_PARALLELISM": "1",
}
"""Settings of crash tests: short leases (a killed process's work is taken over within seconds),
fast polls, cheap password hashing, loopback outbound allowed."""


def wait_until(check: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def first_admin(gateway: GatewayProcess, data_dir: Path, password: str) -> dict[str, str]:
    """Creates the first admin through the one-time setup token; its authorization headers."""
    setup = (data_dir / "setup-token").read_text().strip()
    made = httpx.post(
        f"{gateway.url}/api/auth/setup",
        json={"setupToken": setup, "email": "a@example.com", "password": password,
              "displayName": "A"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['accessToken']}"}
