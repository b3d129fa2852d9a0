"""A real `sophon serve` process: start, answer, log, refuse bad settings, shut down gracefully."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import POSTGRESQL_ONLY, GatewayProcess, sophon_env

pytestmark = pytest.mark.slow


def test_serve_creates_sqlite_in_wal_and_answers(tmp_path: Path) -> None:
    data = tmp_path / "home"
    with GatewayProcess(data) as gateway:
        assert httpx.get(f"{gateway.url}/api/health").json() == {"status": "ok"}
    db = data / "data" / "sophon.db"
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"alembic_version", "system_settings"} <= tables


@POSTGRESQL_ONLY
def test_serve_on_postgresql(tmp_path: Path, database_url: str) -> None:
    with GatewayProcess(tmp_path / "home", database_url) as gateway:
        assert httpx.get(f"{gateway.url}/api/version").status_code == 200


def test_request_id_is_in_every_log_line_of_the_request(tmp_path: Path) -> None:
    data = tmp_path / "home"
    with GatewayProcess(data) as gateway:
        response = httpx.get(f"{gateway.url}/api/nope", headers={"X-Sophon-Request-Id": "trace-1"})
        assert response.headers["x-sophon-request-id"] == "trace-1"
        assert gateway.stop() == 0
    lines = [json.loads(line) for line in (data / "logs" / "gateway.log").read_text().splitlines()]
    mine = [line for line in lines if line.get("requestId") == "trace-1"]
    assert mine
    assert mine[0]["message"] == "GET /api/nope 404"
    assert all({"timestamp", "level", "message"} <= set(line) for line in lines)
    assert all(line["timestamp"].endswith("Z") for line in lines)


def test_sigterm_and_sigint_shut_down_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        gateway = GatewayProcess(tmp_path / f"home-{sig}")
        gateway.start()
        assert gateway.stop(sig) == 0
        assert "gateway stopped" in gateway.stderr()
        assert "Traceback" not in gateway.stderr()


def _sophon(
    tmp_path: Path, args: list[str], env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """`python -m sophon <args>` run to its end with the test's data dir and `env`."""
    return subprocess.run(
        [sys.executable, "-m", "sophon", *args],
        env=sophon_env(tmp_path, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SOPHON_PORT": "eighty"}, "invalid setting SOPHON_PORT:"),
        ({"SOPHON_PORT": "70000"}, "invalid setting SOPHON_PORT:"),
        ({"SOPHON_TIER": "Platinum"}, "invalid setting SOPHON_TIER:"),
        ({"SOPHON_DATABASE_URL": "mysql://x"}, "invalid setting SOPHON_DATABASE_URL:"),
        ({"SOPHON_LOG_LEVEL": "LOUD"}, "invalid setting SOPHON_LOG_LEVEL:"),
        ({"SOPHON_TRUSTED_PROXIES": "proxy.local"}, "invalid setting SOPHON_TRUSTED_PROXIES:"),
    ],
)
def test_bad_setting_refuses_start_in_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = _sophon(tmp_path, ["serve"], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sophon: {expected}")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--port", "abc"], "sophon: argument --port: invalid int value: 'abc'"),
        (["--verbose"], "sophon: unrecognized arguments: --verbose"),
    ],
)
def test_bad_serve_option_is_a_one_line_usage_error(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = _sophon(tmp_path, ["serve", *args])
    assert result.returncode == 2
    assert result.stderr.strip() == f"{expected} (see `sophon serve --help`)"


def test_serve_help_names_its_options(tmp_path: Path) -> None:
    result = _sophon(tmp_path, ["serve", "--help"])
    assert result.returncode == 0
    assert "Start the Gateway." in result.stdout
    assert "--port PORT  Port (env SOPHON_PORT)." in result.stdout


def test_bad_config_file_value_refuses_start(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "gateway.toml").write_text('port = "abc"\n')
    result = _sophon(tmp_path, ["serve"])
    assert result.returncode == 2
    assert result.stderr.strip().startswith("sophon: invalid setting SOPHON_PORT:")


def test_config_file_sets_the_port(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "gateway.toml").write_text(f"port = {gateway.port}\n")
    del gateway.env["SOPHON_PORT"]
    with gateway:
        assert httpx.get(f"{gateway.url}/api/health").status_code == 200


def test_db_upgrade_command(tmp_path: Path) -> None:
    result = _sophon(tmp_path, ["db", "upgrade"], timeout=60)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "data" / "sophon.db").exists()
