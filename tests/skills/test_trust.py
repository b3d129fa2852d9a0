"""Signatures (Ed25519 over the archive's sha256) against SOPHON_SKILLS_TRUSTED_KEYS, and
installing from an https URL or a marketplace index (through the SSRF guard)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sophon.app import create_app
from sophon.settings import Settings
from sophon.skills.trust import fingerprint, sha256_hex
from tests.agents.agent_helpers import audit_actions
from tests.conftest import serve_in_process
from tests.helpers import assert_error
from tests.identity_helpers import Caller, setup_admin
from tests.llm.fakes import FakeServer, JsonReply
from tests.skills.skill_helpers import SKILLS, installed, package, signed, upload, zip_of

PUBLISHER = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()


def public_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


def write_index(path: str, index: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(index))


@pytest.fixture
def trusted_settings(settings: Settings, fake_server: FakeServer, tmp_path: Path) -> Settings:
    fake_server.reset()
    return settings.model_copy(
        update={
            "skills_trusted_keys": f"acme={public_b64(PUBLISHER)}",
            "outbound_allow": "127.0.0.1",
            "skills_index": str(tmp_path / "index.json"),
        }
    )


@pytest.fixture
async def gateway_client(
    trusted_settings: Settings,
) -> AsyncIterator[tuple[httpx.AsyncClient, Caller]]:
    async with serve_in_process(create_app(trusted_settings)) as http:
        yield http, await setup_admin(http, trusted_settings.data)


async def test_a_package_signed_by_a_trusted_key_installs_as_signed(
    gateway_client: tuple[httpx.AsyncClient, Caller],
) -> None:
    client, admin = gateway_client
    data = zip_of(package("trusted"))
    response = await upload(
        client, admin, data, signature=signed(data, PUBLISHER), allow_unsigned=False
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["signature"], body["signer"]) == ("signed", "acme")
    assert body["versions"][0]["sha256"] == sha256_hex(data)


async def test_a_tampered_archive_is_422_even_with_allow_unsigned(
    gateway_client: tuple[httpx.AsyncClient, Caller], trusted_settings: Settings
) -> None:
    client, admin = gateway_client
    data = zip_of(package("tampered"))
    signature = signed(data, PUBLISHER)
    changed = zip_of(package("tampered", main="print('evil')"))
    for allow in (False, True):
        response = await upload(client, admin, changed, signature=signature, allow_unsigned=allow)
        error = assert_error(response, 422, "signature_mismatch")
        assert error["details"]["sha256"] == sha256_hex(changed)
    assert "tampered" not in await installed(client, admin)
    assert not (trusted_settings.data / "skills" / "tampered").exists()
    assert await audit_actions(client, admin, "skill.install") == []


async def test_unsigned_or_unknown_signer_needs_allow_unsigned_and_shows_unsigned(
    gateway_client: tuple[httpx.AsyncClient, Caller],
) -> None:
    client, admin = gateway_client
    data = zip_of(package("stranger"))
    signature = signed(data, STRANGER)
    refused = await upload(client, admin, data, signature=signature, allow_unsigned=False)
    error = assert_error(refused, 422, "unsigned_skill")
    assert error["details"]["signer"] == fingerprint(STRANGER.public_key().public_bytes_raw())
    bare = await upload(client, admin, data, allow_unsigned=False)
    assert_error(bare, 422, "unsigned_skill")
    assert "stranger" not in await installed(client, admin)
    allowed = await upload(client, admin, data, signature=signature, allow_unsigned=True)
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["signature"] == "unsigned"
    assert (await installed(client, admin))["stranger"]["signature"] == "unsigned"
    malformed = await upload(client, admin, data, signature="not json", allow_unsigned=True)
    assert_error(malformed, 422, "validation_failed")


async def test_install_from_an_allowed_url_and_from_the_marketplace_index(
    gateway_client: tuple[httpx.AsyncClient, Caller],
    fake_server: FakeServer,
    trusted_settings: Settings,
) -> None:
    client, admin = gateway_client
    data = zip_of(package("fetched"))
    fake_server.script(
        "GET", "/skills/fetched.zip", JsonReply(data, headers={"content-type": "application/zip"})
    )
    response = await client.post(
        f"{SKILLS}/install",
        headers=admin.headers,
        json={
            "url": f"{fake_server.url}/skills/fetched.zip",
            "signature": json.loads(signed(data, PUBLISHER)),
        },
    )
    assert response.status_code == 201, response.text
    assert (response.json()["source"], response.json()["signature"]) == ("url", "signed")

    market = zip_of(package("listed", "2.0.0"))
    index = {
        "skills": [
            {"name": "listed", "version": "1.0.0", "url": f"{fake_server.url}/old.zip"},
            {
                "name": "listed",
                "version": "2.0.0",
                "url": f"{fake_server.url}/skills/listed.zip",
                "sha256": sha256_hex(market),
                "signature": json.loads(signed(market, PUBLISHER)),
            },
        ]
    }
    assert trusted_settings.skills_index is not None
    write_index(trusted_settings.skills_index, index)
    fake_server.script("GET", "/skills/listed.zip", JsonReply(market))
    response = await client.post(
        f"{SKILLS}/install", headers=admin.headers, json={"name": "listed"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["version"], body["source"], body["signature"]) == (
        "2.0.0",
        "marketplace",
        "signed",
    )
    assert body["versions"][0]["sourceRef"] == "listed@2.0.0"

    unknown = await client.post(f"{SKILLS}/install", headers=admin.headers, json={"name": "nope"})
    assert_error(unknown, 404, "not_found")
    index["skills"][1]["sha256"] = "0" * 64
    index["skills"][1]["version"] = "3.0.0"
    write_index(trusted_settings.skills_index, index)
    fake_server.script("GET", "/skills/listed.zip", JsonReply(market))
    wrong = await client.post(f"{SKILLS}/install", headers=admin.headers, json={"name": "listed"})
    assert_error(wrong, 422, "signature_mismatch")


async def test_a_url_to_a_private_address_is_refused_by_the_ssrf_guard(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    response = await client.post(
        f"{SKILLS}/install", headers=admin.headers, json={"url": "https://127.0.0.1:9/x.zip"}
    )
    error = assert_error(response, 400, "invalid_request")
    assert error["details"]["reason"] == "loopback"
