"""`sophon connections`: add (secret from stdin, shown masked), list, test without a test URL
(exit 1, nothing sent), rotate, delete."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.slow


def test_add_list_test_rotate_delete(signed_in: Cli) -> None:
    secret = "sk-cli-0123456789abcd"
    added = signed_in.invoke(
        "connections", "add", "cli-key", "--kind", "bearer", "--secret-stdin", "--json",
        stdin=secret + "\n",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    made = json.loads(added.stdout)
    assert made["secret"] == "sk-…abcd"
    assert made["reference"] == "{{vault:cli-key}}"
    listed = signed_in.invoke("connections", "list", "--json")
    assert secret not in listed.stdout
    assert [c["name"] for c in json.loads(listed.stdout)] == ["cli-key"]

    tested = signed_in.invoke("connections", "test", "cli-key", "--json")
    assert tested.code == 1
    assert json.loads(tested.stdout)["tested"] is False

    rotated = signed_in.invoke(
        "connections", "rotate", "cli-key", "--secret-stdin", "--json", stdin="sk-new-9999zzzz\n"
    )
    assert rotated.code == 0, rotated.stderr
    assert json.loads(rotated.stdout)["secret"] == "…zz"

    deleted = signed_in.invoke("connections", "delete", "cli-key", "--yes")
    assert deleted.code == 0, deleted.stderr
    assert json.loads(signed_in.invoke("connections", "list", "--json").stdout) == []
    missing = signed_in.invoke("connections", "delete", "cli-key", "--yes")
    assert missing.code != 0
