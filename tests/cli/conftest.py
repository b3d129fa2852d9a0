"""A real Gateway per test module on loopback, its first Admin made through the setup flow, and
ways to run the `sophon` CLI against it: as a subprocess or through typer's CliRunner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from sophon.cli.commands import app
from tests.e2e.server import GatewayProcess, free_port

PASSWORD = "a-fine-password"
EMAIL = "root@example.com"
FAST_GATEWAY = {
    "SOPHON_ARGON2_MEMORY_KIB": "64",
    "SOPHON_ARGON2_TIME_COST": "1",
    "SOPHON_ARGON2_PARALLELISM": "1",
    "SOPHON_LOGIN_SLOWDOWN_MS": "0",
    "SOPHON_RATE_LIMITS_ENABLED": "false",
}


@dataclass
class Gateway:
    url: str
    token: str
    data: Path

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data = tmp_path_factory.mktemp("gateway") / "home"
    process = GatewayProcess(data, **FAST_GATEWAY)
    process.start(timeout=90)  # other suites share the machine: starts can be slow
    try:
        setup = (data / "setup-token").read_text().strip()
        made = httpx.post(
            f"{process.url}/api/auth/setup",
            json={"setupToken": setup, "email": EMAIL, "password": PASSWORD, "displayName": "Root"},
        )
        assert made.status_code == 201, made.text
        yield Gateway(process.url, made.json()["accessToken"], data)
    finally:
        process.__exit__(None, None, None)


@dataclass
class Cli:
    """Runs `sophon` with its own data dir (so its own cli.json) against one Gateway."""

    home: Path
    url: str

    @property
    def config_file(self) -> Path:
        return self.home / "config" / "cli.json"

    def config(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.config_file.read_text())
        return loaded

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOPHON_")}
        env.pop("NO_COLOR", None)
        env.update({"SOPHON_DATA": str(self.home), "SOPHON_GATEWAY": self.url, **extra})
        return env

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """The CLI as a real process."""
        return subprocess.run(
            [sys.executable, "-m", "sophon", *args],
            input=stdin,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def invoke(self, *args: str, stdin: str | None = None, **env: str) -> Result:
        """The CLI in this process, through typer's CliRunner."""
        runner = CliRunner()
        overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SOPHON_")}
        overrides.update(NO_COLOR=None, SOPHON_DATA=str(self.home), SOPHON_GATEWAY=self.url)
        overrides.update(env)
        result = runner.invoke(app, list(args), input=stdin, env=overrides)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def login(self) -> None:
        done = self.invoke("login", "--email", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
        assert done.code == 0, done.stderr


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(gateway: Gateway, tmp_path: Path) -> Cli:
    return Cli(tmp_path / "cli-home", gateway.url)


@pytest.fixture
def signed_in(cli: Cli) -> Cli:
    cli.login()
    return cli


@pytest.fixture
def nowhere() -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


def one_line_error(stderr: str) -> str:
    """The CLI's failure: exactly one line, `sophon: …`."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sophon: "), stderr
    return lines[0]
