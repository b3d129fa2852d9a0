"""`sophon documents` against a real Gateway: streamed upload with --wait, list, show, raw,
search, delete, and the errors of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, one_line_error

pytestmark = pytest.mark.slow


def test_documents_round_trip(signed_in: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Pelicans\n\nPelicans nest on the Danube delta.\n")
    table = tmp_path / "birds.csv"
    table.write_text("bird,count\npelican,12\nheron,4\n")
    made = signed_in.invoke(
        "documents", "upload", str(notes), str(table), "--tag", "birds", "--wait", "--json"
    )
    assert made.code == 0, made.stderr
    items = json.loads(made.stdout)
    assert [i["status"] for i in items] == ["Ready", "Ready"]
    notes_id = items[0]["id"]

    listed = json.loads(signed_in.invoke("documents", "list", "--tag", "birds", "--json").stdout)
    assert {d["name"] for d in listed} == {"notes.md", "birds.csv"}
    shown = signed_in.invoke("documents", "show", "notes.md", "--text")
    assert "Danube delta" in shown.stdout
    found = json.loads(signed_in.invoke("documents", "search", "Danube", "--json").stdout)
    assert found["items"][0]["documentId"] == notes_id
    copy = tmp_path / "copy.md"
    assert signed_in.invoke("documents", "raw", notes_id, "-o", str(copy)).code == 0
    assert copy.read_bytes() == notes.read_bytes()

    again = json.loads(signed_in.invoke("documents", "upload", str(notes), "--json").stdout)
    assert again[0]["id"] == notes_id
    assert again[0]["duplicate"] is True

    removed = signed_in.invoke("documents", "delete", notes_id)
    assert removed.code == 0, removed.stderr
    gone = signed_in.invoke("documents", "show", notes_id)
    assert gone.code == 1
    assert "404" in one_line_error(gone.stderr)


def test_bad_documents_are_refused(signed_in: Cli, tmp_path: Path) -> None:
    fake = tmp_path / "invoice.pdf"
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 100)
    refused = signed_in.invoke("documents", "upload", str(fake))
    assert refused.code == 1
    assert "415" in one_line_error(refused.stderr)
    empty = tmp_path / "empty.txt"
    empty.write_text("   ")
    failed = signed_in.invoke("documents", "upload", str(empty), "--wait", "--json")
    assert failed.code == 1
    assert json.loads(failed.stdout)[0]["errorCode"] == "empty_text"
    nothing = signed_in.invoke("documents", "ask", "anything about zebras?")
    assert nothing.code == 0, nothing.stderr
    assert "No passage of the documents matches" in nothing.stdout
