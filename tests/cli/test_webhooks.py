"""`sophon webhooks …` against a real Gateway that may deliver to a loopback receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import EMAIL, FAST_GATEWAY, PASSWORD, Cli, Gateway, one_line_error
from tests.e2e.server import GatewayProcess
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data = tmp_path_factory.mktemp("gateway") / "home"
    process = GatewayProcess(
        data, **FAST_GATEWAY, SOPHON_OUTBOUND_ALLOW="127.0.0.1", SOPHON_QUEUE_POLL_SECONDS="0.2"
    )
    process.start(timeout=90)
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def settled(cli: Cli, webhook: str, delivery: str) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = json.loads(cli.invoke("webhooks", "deliveries", webhook, delivery, "--json").stdout)
        if found["status"] != "Pending":
            return dict(found)
        time.sleep(0.1)
    raise AssertionError("the delivery stayed Pending")


def test_outbound_lifecycle(signed_in: Cli, receiver: Receiver, tmp_path: Path) -> None:
    added = signed_in.invoke(
        "webhooks", "add", "--name", "ci", "--url", f"{receiver.url}/hook",
        "-e", "task.*", "-H", "X-Team: blue", "--json",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["secret"].startswith("whsec_")
    assert made["headers"] == {"X-Team": "••••••"}
    listed = signed_in.invoke("webhooks", "list")
    assert listed.code == 0
    assert made["id"] in listed.stdout
    shown = json.loads(signed_in.invoke("webhooks", "show", made["id"], "--json").stdout)
    assert shown["secret"] is None

    tested = json.loads(signed_in.invoke("webhooks", "test", made["id"], "--json").stdout)
    done = settled(signed_in, made["id"], tested["id"])
    assert done["status"] == "Succeeded"
    (hit,) = receiver.of("/hook")
    assert hit.headers["x-team"] == "blue"
    assert hit.headers["webhook-id"] == tested["id"]

    table = signed_in.invoke("webhooks", "deliveries", made["id"], "--status", "Succeeded")
    assert table.code == 0
    assert tested["id"] in table.stdout
    retried = signed_in.invoke("webhooks", "retry", made["id"], tested["id"], "--json")
    assert retried.code == 0, retried.stderr
    assert settled(signed_in, made["id"], tested["id"])["attempts"] == 2

    rotated = signed_in.invoke("webhooks", "rotate-secret", made["id"])
    assert rotated.stdout.startswith(f"New secret for {made['id']}: whsec_")

    bad = signed_in.invoke("webhooks", "add", "--name", "x", "--url", "ftp://nope", "-e", "task.*")
    assert bad.code == 1
    assert "validation_failed, HTTP 422" in one_line_error(bad.stderr)
    wrong = signed_in.invoke("webhooks", "add", "--name", "x", "--inbound", "--filter", "nope")
    assert wrong.code == 2

    deleted = signed_in.invoke("webhooks", "delete", made["id"], "--yes")
    assert deleted.code == 0, deleted.stderr
    assert signed_in.invoke("webhooks", "show", made["id"]).code == 1


def test_inbound_add_shows_the_receive_url(signed_in: Cli) -> None:
    added = signed_in.invoke(
        "webhooks", "add", "--name", "gh", "--inbound", "--scheme", "github",
        "--slug", "gh-push", "--agent", "default", "--template", "{{$trigger.body.ref}}",
        "--filter", "header:X-GitHub-Event=push", "--json",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["receiveUrl"] == "/api/webhooks/receive/gh-push"
    assert made["filters"] == [{"type": "header", "name": "X-GitHub-Event", "value": "push"}]
    inbound = signed_in.invoke("webhooks", "list", "--kind", "inbound", "--json")
    assert [w["id"] for w in json.loads(inbound.stdout)] == [made["id"]]
