"""`sophon serve` as a person at a terminal meets it: readable logs on a terminal (JSON when
piped, or when chosen), and a port in use as one line."""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.repl_helpers import Terminal
from tests.e2e.server import GatewayProcess, free_port, sophon_env

pytestmark = pytest.mark.slow


def _serve_on_a_terminal(data: Path, **env: str) -> str:
    """`sophon serve` with its stderr on a pseudo-terminal: what it wrote until it listened."""
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sophon", "serve"],
        env=sophon_env(data, SOPHON_PORT=str(free_port()), **env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=child,
    )
    os.close(child)
    try:
        seen = Terminal(parent).read_until(b"(Press CTRL+C to quit)", timeout=90).decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        os.close(parent)
    return seen


def _file_lines(data: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (data / "logs" / "gateway.log").read_text().splitlines()]


def test_logs_are_readable_on_a_terminal_and_json_in_the_file(tmp_path: Path) -> None:
    lines = _serve_on_a_terminal(tmp_path / "home").splitlines()
    assert any(
        line.endswith(" INFO  sophon.app: gateway ready (database=sqlite)") for line in lines
    )
    assert " INFO  uvicorn.error: Uvicorn running on http://127.0.0.1:" in lines[-1]
    assert not [line for line in lines if line.startswith("{")]
    assert "gateway ready" in [line["message"] for line in _file_lines(tmp_path / "home")]


def test_log_json_true_wins_on_a_terminal(tmp_path: Path) -> None:
    lines = _serve_on_a_terminal(tmp_path / "home", SOPHON_LOG_JSON="true").splitlines()
    assert all(line.startswith('{"timestamp": "') for line in lines)
    assert '"message": "gateway ready", "database": "sqlite"}' in "\n".join(lines)


def test_log_json_false_wins_when_piped(tmp_path: Path) -> None:
    data = tmp_path / "home"
    with GatewayProcess(data, SOPHON_LOG_JSON="false") as gateway:
        assert gateway.stop() == 0
    assert " INFO  sophon.app: gateway ready (database=sqlite)\n" in gateway.stderr()
    assert '{"' not in gateway.stderr()
    assert "gateway stopped" in [line["message"] for line in _file_lines(data)]


def test_a_port_in_use_is_one_line_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "sophon", "serve", "--port", str(port)],
            env=sophon_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"sophon: port {port} on 127.0.0.1 is already in use — stop the other process or pass "
        "--port\n"
    )
    assert not (tmp_path / "home").exists()  # no logs, no database, no setup token
