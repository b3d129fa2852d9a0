"""Building skill packages and calling the skills API in tests."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sophon.skills.trust import sign
from tests.identity_helpers import Caller

SKILLS = "/api/skills"

ECHO_MAIN = """\
import json, sys
call = json.load(sys.stdin)
args = call["arguments"]
print(json.dumps({"content": "echo:" + json.dumps(args, sort_keys=True)}))
"""


def skill_md(name: str, description: str = "A test skill.", body: str = "Do things.") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n{body}\n"


def manifest(name: str, version: str = "1.0.0", **fields: Any) -> dict[str, Any]:
    tool = {
        "name": f"{name.replace('-', '_')}.run",
        "description": "Runs the test skill.",
        "risk": "Low",
        "parameters": {
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        },
    }
    return {
        "name": name,
        "version": version,
        "description": "A test skill.",
        "entrypoint": "main.py",
        "tools": [tool],
        "sandbox": {"network": "none", "memoryMb": 128, "cpuSeconds": 5, "timeoutSeconds": 10},
    } | fields


def package(
    name: str = "echoer",
    version: str = "1.0.0",
    main: str = ECHO_MAIN,
    extra: dict[str, str | bytes] | None = None,
    **fields: Any,
) -> dict[str, str | bytes]:
    return {
        "SKILL.md": skill_md(name),
        "manifest.json": json.dumps(manifest(name, version, **fields)),
        "main.py": main,
    } | (extra or {})


def zip_of(files: dict[str, str | bytes], *, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(prefix + path, content)
    return buffer.getvalue()


def tar_of(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def signed(data: bytes, key: Ed25519PrivateKey) -> str:
    return sign(data, key)


async def upload(
    client: httpx.AsyncClient,
    caller: Caller,
    data: bytes,
    *,
    signature: str | None = None,
    allow_unsigned: bool = True,
    allow_flagged: bool = False,
    filename: str = "skill.zip",
) -> httpx.Response:
    fields = {"allowUnsigned": str(allow_unsigned).lower(), "allowFlagged": str(allow_flagged)}
    if signature is not None:
        fields["signature"] = signature
    return await client.post(
        f"{SKILLS}/install",
        headers=caller.headers,
        files={"file": (filename, data, "application/zip")},
        data=fields,
    )


async def install(client: httpx.AsyncClient, caller: Caller, data: bytes) -> dict[str, Any]:
    response = await upload(client, caller, data)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def installed(client: httpx.AsyncClient, caller: Caller) -> dict[str, dict[str, Any]]:
    response = await client.get(SKILLS, headers=caller.headers, params={"limit": 200})
    assert response.status_code == 200, response.text
    return {s["name"]: s for s in response.json()["items"]}


async def enable(
    client: httpx.AsyncClient, caller: Caller, name: str, agent_id: str
) -> dict[str, Any]:
    response = await client.post(
        f"{SKILLS}/{name}/enable", headers=caller.headers, json={"agentId": agent_id}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def as_json(value: Any) -> str:
    return json.dumps(value)
