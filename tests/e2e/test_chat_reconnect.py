"""`sophon chat` outlives a Gateway restart: a real `sophon serve` is stopped and started again
under a REPL on a pseudo-terminal, which reconnects with backoff and says so in words."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import EMAIL, FAST_GATEWAY, PASSWORD, Cli
from tests.cli.repl_helpers import chat_on_a_terminal
from tests.e2e.server import GatewayProcess
from tests.e2e.slow_model import MODEL, HoldingServer, answer_to

pytestmark = pytest.mark.slow
JARGON = (b"WebSocket", b"1012", b"1001", b"Errno", b"ConnectionClosed", b"Traceback")
# a crashed process's turn is taken over once its lease runs out: keep that short
FAST_RECOVERY = {"SOPHON_TASK_LEASE_SECONDS": "3", "SOPHON_QUEUE_POLL_SECONDS": "0.2"}


def _signed_in(gateway: GatewayProcess, data: Path, home: Path) -> Cli:
    setup = (data / "setup-token").read_text().strip()
    first = {"setupToken": setup, "email": EMAIL, "password": PASSWORD, "displayName": "R"}
    made = httpx.post(f"{gateway.url}/api/auth/setup", json=first)
    assert made.status_code == 201, made.text
    cli = Cli(home, gateway.url)
    cli.login()
    return cli


def test_the_repl_reconnects_after_the_gateway_restarts(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "home", **FAST_GATEWAY)
    gateway.start(timeout=90)
    try:
        cli = _signed_in(gateway, tmp_path / "home", tmp_path / "cli-home")
        with chat_on_a_terminal(cli) as (proc, term):
            seen = term.read_until(b"you> ")
            term.type(b"before the restart")
            seen += term.read_until(b"You said: before the restart\r\n")
            seen += term.read_until(b"you> ")

            assert gateway.stop() == 0
            term.type(b"while it is down")
            seen += term.read_until(
                b"Lost the connection to the Gateway (The Gateway is restarting)"
            )
            seen += term.read_until(
                b"Not back yet (nothing listens at that address); trying again in 0.5 s"
            )
            seen += term.read_until(b"(Ctrl+C to stop).\r\n")
            gateway.start(timeout=90)
            seen += term.read_until(b"Reconnected.\r\n", timeout=60)
            seen += term.read_until(b"You said: while it is down\r\n")
            seen += term.read_until(b"you> ")

            assert gateway.stop() == 0
            gateway.start(timeout=90)
            term.type(b"after a quiet restart")
            seen += term.read_until(b"Reconnected.\r\n")
            seen += term.read_until(b"You said: after a quiet restart\r\n")
            seen += term.read_until(b"you> ")
            term.type(b"/exit")
            assert proc.wait(timeout=30) == 0
        assert not [word for word in JARGON if word in seen], seen.decode()
        messages = cli.invoke("sessions", "list", "--json")
        assert messages.code == 0, messages.stderr
    finally:
        gateway.__exit__(None, None, None)


def test_a_turn_cut_by_a_crash_is_followed_to_its_answer(tmp_path: Path) -> None:
    """The Gateway dies while an answer is being written: the REPL reconnects to the restarted
    Gateway, which resumes the turn, and prints the answer when it is done."""
    question = "What is the capital of France?"
    gateway = GatewayProcess(tmp_path / "home", **FAST_GATEWAY, **FAST_RECOVERY)
    with HoldingServer() as model:
        gateway.start(timeout=90)
        try:
            cli = _signed_in(gateway, tmp_path / "home", tmp_path / "cli-home")
            provider = {"name": "slow", "type": "openai", "baseUrl": f"{model.url}/v1",
                        "apiKey": "sk-test-slow-model-0123456789", "defaultModel": MODEL,
                        "models": [{"id": MODEL}]}  # fmt: skip
            signed = {"Authorization": f"Bearer {cli.config()['authToken']}"}
            added = httpx.post(f"{gateway.url}/api/models/providers", json=provider, headers=signed)
            assert added.status_code == 201, added.text
            with chat_on_a_terminal(cli) as (proc, term):
                term.read_until(b"you> ")
                term.type(question.encode())
                model.wait_for(1)
                gateway.kill()
                seen = term.read_until(b"Lost the connection to the Gateway (")
                seen += term.read_until(b"Not back yet (nothing listens at that address)")
                gateway.start(timeout=90)
                seen += term.read_until(b"Reconnected.\r\n", timeout=60)
                model.wait_for(2)  # the resumed turn asks the model again
                model.release()
                seen += term.read_until(answer_to(question).encode() + b"\r\n", timeout=60)
                seen += term.read_until(b"you> ")
                term.type(b"/exit")
                assert proc.wait(timeout=30) == 0
            assert not [word for word in JARGON if word in seen], seen.decode()
        finally:
            gateway.__exit__(None, None, None)
