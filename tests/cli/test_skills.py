"""`sophon skills`: install a folder, list, show, enable/disable for an agent, roll back,
uninstall; bad input is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, one_line_error
from tests.skills.skill_helpers import package, zip_of

pytestmark = pytest.mark.slow


def write_folder(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in package("clitool", version).items():
        (folder / name).write_text(content if isinstance(content, str) else content.decode())
    return folder


def test_skills_round_trip(signed_in: Cli, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "clitool", "1.0.0")
    refused = signed_in.invoke("skills", "install", str(folder))
    assert refused.code == 1
    assert "422" in one_line_error(refused.stderr)

    done = signed_in.invoke("skills", "install", str(folder), "--allow-unsigned")
    assert done.code == 0, done.stderr
    assert "Installed clitool 1.0.0 (unsigned, Active)" in done.stdout
    archive = tmp_path / "clitool-2.zip"
    archive.write_bytes(zip_of(package("clitool", "2.0.0")))
    newer = signed_in.invoke("skills", "install", str(archive), "--allow-unsigned", "--json")
    assert json.loads(newer.stdout)["version"] == "2.0.0"

    listed = json.loads(signed_in.invoke("skills", "list", "--json").stdout)
    assert {"clitool", "code.lint", "csv.query"} <= {s["name"] for s in listed}
    table = signed_in.invoke("skills", "show", "clitool")
    assert "2.0.0 (active), 1.0.0" in table.stdout

    enabled = signed_in.invoke("skills", "enable", "clitool", "--agent", "default", "--json")
    assert enabled.code == 0, enabled.stderr
    agents = json.loads(signed_in.invoke("agents", "list", "--json").stdout)
    default = next(a for a in agents if a["isDefault"])
    assert json.loads(enabled.stdout)["enabledAgents"] == [default["id"]]
    assert "clitool.run" in default["tools"]
    disabled = signed_in.invoke("skills", "disable", "clitool", "--agent", "default")
    assert disabled.code == 0, disabled.stderr

    rolled = signed_in.invoke("skills", "activate", "clitool", "1.0.0", "--json")
    assert json.loads(rolled.stdout)["version"] == "1.0.0"
    gone = signed_in.invoke("skills", "uninstall", "clitool", "--yes")
    assert gone.code == 0, gone.stderr
    missing = signed_in.invoke("skills", "show", "clitool")
    assert missing.code == 1
    assert "404" in one_line_error(missing.stderr)


def test_a_folder_with_a_link_is_refused_before_upload(signed_in: Cli, tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "linked", "1.0.0")
    (folder / "key").symlink_to("/etc/hostname")
    refused = signed_in.invoke("skills", "install", str(folder), "--allow-unsigned")
    assert refused.code != 0
    assert "link" in refused.stderr
    unknown = signed_in.invoke("skills", "install", "no-such-skill-anywhere")
    assert unknown.code == 1
    assert "404" in one_line_error(unknown.stderr)
