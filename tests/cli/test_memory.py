"""`sophon memory`: add, list, search, graph, and forgetting through an approval."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.cli.repl_helpers import run_on_a_terminal

pytestmark = pytest.mark.slow


def test_memory_round_trip(signed_in: Cli) -> None:
    added = signed_in.invoke(
        "memory", "add", "Alice Martin works at Acme Robotics", "--tag", "work", "--json"
    )
    assert added.code == 0, added.stderr
    entry = json.loads(added.stdout)
    assert entry["tags"] == ["work"]

    listed = json.loads(signed_in.invoke("memory", "list", "--tag", "work", "--json").stdout)
    assert [e["id"] for e in listed] == [entry["id"]]
    table = signed_in.invoke("memory", "list")
    assert "Alice Martin works at Acme Robotics" in table.stdout

    found = json.loads(signed_in.invoke("memory", "search", "Acme", "--json").stdout)
    assert found["items"][0]["entry"]["id"] == entry["id"]
    assert "<mark>" in found["items"][0]["snippet"]

    graph = signed_in.invoke("memory", "graph", "Alice Martin")
    assert graph.code == 0, graph.stderr
    assert "Acme Robotics" in graph.stdout
    unknown = signed_in.invoke("memory", "graph", "Nobody Known")
    assert unknown.code == 1
    assert "404" in one_line_error(unknown.stderr)

    asked = json.loads(signed_in.invoke("memory", "forget", entry["id"], "--json").stdout)
    still = json.loads(signed_in.invoke("memory", "list", "--json").stdout)
    assert [e["id"] for e in still] == [entry["id"]]  # nothing happens before the approval
    approved = signed_in.invoke("approvals", "approve", asked["approvalId"])
    assert approved.code == 0, approved.stderr
    assert json.loads(signed_in.invoke("memory", "list", "--json").stdout) == []


def test_bad_memory_input_is_refused(signed_in: Cli) -> None:
    refused = signed_in.invoke("memory", "add", "x", "--scope", "galaxy")
    assert refused.code == 1
    assert "422" in one_line_error(refused.stderr)
    assert json.loads(signed_in.invoke("memory", "list", "--json").stdout) == []


def test_search_shows_snippets_as_text_and_says_when_nothing_matches(signed_in: Cli) -> None:
    added = signed_in.invoke("memory", "add", "Bob & Carol <3 the Zephyr launch", "--json")
    assert added.code == 0, added.stderr
    piped = signed_in.run("memory", "search", "Zephyr")
    assert piped.returncode == 0, piped.stderr
    assert "Bob & Carol <3 the Zephyr launch" in piped.stdout
    assert "<mark>" not in piped.stdout
    assert "\x1b[" not in piped.stdout

    styled = "\n".join(run_on_a_terminal(signed_in, "memory", "search", "Zephyr", styled=True))
    assert "Bob & Carol <3 the \x1b[1;7mZephyr\x1b[0m launch" in styled
    assert "<mark>" not in styled

    nothing = signed_in.run("memory", "search", "xylophone")
    assert nothing.returncode == 0, nothing.stderr
    assert nothing.stdout == "No matches for 'xylophone'.\n"
    as_json = json.loads(signed_in.run("memory", "search", "xylophone", "--json").stdout)
    assert as_json["items"] == []

    asked = json.loads(signed_in.invoke("memory", "forget", json.loads(added.stdout)["id"],
                                        "--json").stdout)  # fmt: skip
    assert signed_in.invoke("approvals", "approve", asked["approvalId"]).code == 0
