"""`sophon cron`: add, list, show with the next times, pause, resume, trigger, history, delete,
all by name; a bad schedule is refused with the API's 422."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, one_line_error

pytestmark = pytest.mark.slow


def test_cron_round_trip_by_name(signed_in: Cli) -> None:
    added = signed_in.invoke(
        "cron", "add", "--name", "Weekday digest", "--schedule", "0 9 * * MON-FRI",
        "--tz", "Europe/Berlin", "--action", "agent", "--agent", "default",
        "--message", "Summarise yesterday.", "--json",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    job = json.loads(added.stdout)
    assert (job["status"], job["timezone"]) == ("Active", "Europe/Berlin")

    listed = json.loads(signed_in.invoke("cron", "list", "--json").stdout)
    assert [j["name"] for j in listed] == ["Weekday digest"]
    table = signed_in.invoke("cron", "list")
    assert "Weekday digest" in table.stdout
    assert "0 9 * * MON-FRI" in table.stdout

    shown = json.loads(
        signed_in.invoke("cron", "show", "weekday digest", "--preview", "3", "--json").stdout
    )
    assert len(shown["preview"]) == 3

    paused = signed_in.invoke("cron", "pause", "Weekday digest", "--json")
    assert json.loads(paused.stdout)["status"] == "Paused"
    resumed = signed_in.invoke("cron", "resume", "Weekday digest")
    assert resumed.code == 0, resumed.stderr
    assert "Active" in resumed.stdout

    run = json.loads(signed_in.invoke("cron", "trigger", "Weekday digest", "--json").stdout)
    assert run["trigger"] == "manual"
    runs = json.loads(signed_in.invoke("cron", "history", "Weekday digest", "--json").stdout)
    assert [r["id"] for r in runs] == [run["id"]]

    deleted = signed_in.invoke("cron", "delete", "Weekday digest")
    assert deleted.code == 0, deleted.stderr
    assert json.loads(signed_in.invoke("cron", "list", "--json").stdout) == []
    missing = signed_in.invoke("cron", "show", "Weekday digest")
    assert missing.code == 1


def test_a_bad_schedule_is_refused(signed_in: Cli) -> None:
    refused = signed_in.invoke(
        "cron", "add", "--name", "broken", "--schedule", "0 25 * * *", "--message", "hi"
    )
    assert refused.code == 1
    assert "422" in one_line_error(refused.stderr)
    assert "Bad hour" in one_line_error(refused.stderr)
    assert json.loads(signed_in.invoke("cron", "list", "--json").stdout) == []


def test_a_webhook_job_waits_for_its_approval(signed_in: Cli) -> None:
    added = signed_in.invoke(
        "cron", "add", "--name", "hook", "--schedule", "15m", "--type", "interval",
        "--action", "webhook", "--url", "https://example.com/in",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert "PendingApproval" in added.stdout
    assert "approve apr_" in added.stdout
    signed_in.invoke("cron", "delete", "hook")
