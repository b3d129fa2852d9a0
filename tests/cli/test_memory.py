"""`sophon memory`: add, list, search, graph, and forgetting through an approval."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli, one_line_error

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
