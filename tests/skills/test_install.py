"""Installing, listing, reading, versioning and uninstalling skills through /api/skills."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.agents.agent_helpers import audit_actions
from tests.helpers import assert_error
from tests.identity_helpers import Caller, add_user
from tests.skills.skill_helpers import (
    SKILLS,
    install,
    installed,
    manifest,
    package,
    skill_md,
    tar_of,
    upload,
    zip_of,
)


async def catalog(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    items = (await client.get("/api/tools", params={"limit": 200})).json()["items"]
    return {t["name"]: t for t in items}


async def test_the_bundled_skills_are_installed_and_their_tools_are_in_the_catalog(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    skills = await installed(client, admin)
    assert {"code.lint", "csv.query"} <= set(skills)
    lint = skills["code.lint"]
    assert (lint["source"], lint["signature"], lint["status"]) == ("bundled", "bundled", "Active")
    assert [t["name"] for t in lint["tools"]] == ["code.lint"]
    assert lint["enabledAgents"] == []
    tools = await catalog(client)
    assert tools["code.lint"]["source"] == "skill"
    assert tools["csv.query"]["riskLevel"] == "None"
    assert tools["skill.read"]["source"] == "skill"


async def test_an_agent_skills_folder_installs_as_an_instruction_only_skill(
    client: httpx.AsyncClient, admin: Caller, data_dir: Path
) -> None:
    files = {"SKILL.md": skill_md("pdf-notes", "Take notes from PDFs."), "ref/guide.md": "Hi"}
    response = await upload(client, admin, zip_of(files, prefix="pdf-notes/"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "pdf-notes"
    assert body["version"] == "0.0.0"
    assert body["tools"] == []
    assert body["signature"] == "unsigned"
    assert body["source"] == "upload"
    assert sorted(body["files"]) == ["SKILL.md", "ref/guide.md"]
    assert "Take notes from PDFs." in body["skillMd"]
    assert (data_dir / "skills" / "pdf-notes" / "0.0.0" / "ref" / "guide.md").read_text() == "Hi"
    fetched = await client.get(f"{SKILLS}/pdf-notes", headers=admin.headers)
    assert fetched.status_code == 200
    assert [v["version"] for v in fetched.json()["versions"]] == ["0.0.0"]
    assert await audit_actions(client, admin, "skill.install") == ["skill.install"]


async def test_a_skill_with_tools_installs_from_a_tar_gz_and_its_tools_join_the_catalog(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await upload(client, admin, tar_of(package("echoer")), filename="s.tar.gz")
    assert response.status_code == 201, response.text
    body = response.json()
    assert [t["name"] for t in body["tools"]] == ["echoer.run"]
    assert body["tools"][0]["riskLevel"] == "Low"
    tool = (await catalog(client))["echoer.run"]
    assert tool["source"] == "skill"
    assert tool["parameters"]["required"] == ["text"]


async def test_the_manifest_schema_is_published(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{SKILLS}/manifest-schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) >= {"name", "version", "tools", "credentials", "sandbox"}


async def test_a_manifest_failing_the_schema_is_422_with_the_json_path(
    client: httpx.AsyncClient, admin: Caller, data_dir: Path
) -> None:
    bad = manifest("broken")
    bad["tools"][0]["risk"] = "Extreme"
    files = package("broken") | {"manifest.json": json.dumps(bad)}
    error = assert_error(await upload(client, admin, zip_of(files)), 422, "validation_failed")
    assert error["details"]["path"] == "$.tools[0].risk"
    bad_params = manifest("broken")
    bad_params["tools"][0]["parameters"] = {"type": "object", "properties": {"x": {"type": 3}}}
    files = package("broken") | {"manifest.json": json.dumps(bad_params)}
    error = assert_error(await upload(client, admin, zip_of(files)), 422, "validation_failed")
    assert error["details"]["path"] == "$.tools[0].parameters"
    no_version = package("broken") | {"manifest.json": json.dumps({"name": "broken"})}
    error = assert_error(await upload(client, admin, zip_of(no_version)), 422, "validation_failed")
    assert error["details"]["path"] == "$"
    missing_md = {"manifest.json": json.dumps(manifest("broken")), "main.py": "print(1)"}
    error = assert_error(await upload(client, admin, zip_of(missing_md)), 422, "validation_failed")
    assert error["details"]["path"] == "SKILL.md"
    assert "broken" not in await installed(client, admin)
    assert not (data_dir / "skills" / "broken").exists()
    assert await audit_actions(client, admin, "skill.install") == []


async def test_tool_names_colliding_with_a_builtin_or_another_skill_are_409(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await install(client, admin, zip_of(package("first")))
    taken_builtin = manifest("second")
    taken_builtin["tools"][0]["name"] = "code.execute"
    files = package("second") | {"manifest.json": json.dumps(taken_builtin)}
    error = assert_error(await upload(client, admin, zip_of(files)), 409, "conflict")
    assert error["details"] == {"tools": ["code.execute"]}
    taken_skill = manifest("second")
    taken_skill["tools"][0]["name"] = "first.run"
    files = package("second") | {"manifest.json": json.dumps(taken_skill)}
    error = assert_error(await upload(client, admin, zip_of(files)), 409, "conflict")
    assert error["details"] == {"tools": ["first.run"]}
    assert "second" not in await installed(client, admin)
    assert (await catalog(client))["code.execute"]["source"] == "builtin"


async def test_a_newer_version_keeps_the_previous_one_and_activate_rolls_back(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    await install(client, admin, zip_of(package("echoer", "1.0.0")))
    again = await upload(client, admin, zip_of(package("echoer", "1.0.0")))
    assert_error(again, 409, "conflict")
    newer = package("echoer", "1.1.0")
    newer_manifest = manifest("echoer", "1.1.0")
    newer_manifest["tools"][0]["description"] = "Runs the newer test skill."
    newer["manifest.json"] = json.dumps(newer_manifest)
    body = await install(client, admin, zip_of(newer))
    assert body["version"] == "1.1.0"
    assert [(v["version"], v["active"]) for v in body["versions"]] == [
        ("1.1.0", True),
        ("1.0.0", False),
    ]
    assert (await catalog(client))["echoer.run"]["description"] == "Runs the newer test skill."
    rolled = await client.post(f"{SKILLS}/echoer/versions/1.0.0/activate", headers=admin.headers)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == "1.0.0"
    assert (await catalog(client))["echoer.run"]["description"] == "Runs the test skill."
    missing = await client.post(f"{SKILLS}/echoer/versions/9.9.9/activate", headers=admin.headers)
    assert_error(missing, 404, "not_found")
    assert await audit_actions(client, admin, "skill.activate") == ["skill.activate"]


async def test_uninstall_removes_the_tools_and_the_files(
    client: httpx.AsyncClient, admin: Caller, data_dir: Path
) -> None:
    await install(client, admin, zip_of(package("echoer")))
    assert (data_dir / "skills" / "echoer").is_dir()
    response = await client.delete(f"{SKILLS}/echoer", headers=admin.headers)
    assert response.status_code == 204
    assert "echoer.run" not in await catalog(client)
    assert "echoer" not in await installed(client, admin)
    assert not (data_dir / "skills" / "echoer").exists()
    assert_error(await client.get(f"{SKILLS}/echoer", headers=admin.headers), 404, "not_found")
    assert_error(await client.delete(f"{SKILLS}/echoer", headers=admin.headers), 404, "not_found")
    assert await audit_actions(client, admin, "skill.uninstall") == ["skill.uninstall"]


async def test_managing_skills_needs_manage_skills(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    viewer = await add_user(client, admin, "viewer@example.com")
    assert_error(await client.get(SKILLS, headers=viewer.headers), 403, "not_authorized")
    refused = await upload(client, viewer, zip_of(package("echoer")))
    assert_error(refused, 403, "not_authorized")
    assert "echoer" not in await installed(client, admin)


async def test_install_needs_exactly_one_source(client: httpx.AsyncClient, admin: Caller) -> None:
    neither = await client.post(f"{SKILLS}/install", headers=admin.headers, json={})
    assert_error(neither, 422, "validation_failed")
    both = await client.post(
        f"{SKILLS}/install",
        headers=admin.headers,
        json={"url": "https://x.test/a.zip", "name": "a"},
    )
    assert_error(both, 422, "validation_failed")
    plain_http = await client.post(
        f"{SKILLS}/install", headers=admin.headers, json={"url": "http://example.com/a.zip"}
    )
    assert assert_error(plain_http, 422, "validation_failed")["details"] == {"path": "url"}
    no_file = await client.post(
        f"{SKILLS}/install", headers=admin.headers, data={"x": "1"}, files={"other": b"x"}
    )
    assert_error(no_file, 422, "validation_failed")
