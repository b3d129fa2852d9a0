"""A `sophon serve` process spawned ahead of time: it imports the Gateway, then waits for `go()`
before it reads its settings and starts. A restart after a crash then costs the Gateway's
start-up rather than Python's imports (seconds on a busy machine)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.server import GatewayProcess

_WAIT_THEN_SERVE = (
    "import sys\n"
    "import sophon.app\n"
    "from sophon.cli.main import run\n"
    "sys.stdin.readline()\n"
    "sys.argv = ['sophon', 'serve']\n"
    "run()\n"
)


class StandbyGateway(GatewayProcess):
    def __init__(self, data_dir: Path, database_url: str | None = None, **env: str) -> None:
        super().__init__(data_dir, database_url, **env)
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _WAIT_THEN_SERVE],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def start(self, timeout: float = 60.0) -> float:
        """Lets the process serve; returns seconds until `/api/health` answered."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        started = time.perf_counter()
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.close()
        while time.perf_counter() < started + timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.stderr()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.02)  # polling a port for a process to come up; nothing to wait on
        self.kill()
        raise TimeoutError(f"gateway did not answer within {timeout}s:\n{self.stderr()}")
