"""AutoAdmin: in the Personal tier on loopback, calls without credentials act as the local admin;
credentials that are given are still checked; any other tier or bind address refuses to start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sophon.settings import Settings
from tests.e2e.server import sophon_env
from tests.helpers import assert_error
from tests.identity_helpers import PASSWORD, login


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auto_admin": True})


async def test_calls_without_credentials_act_as_the_local_admin(
    client: httpx.AsyncClient,
) -> None:
    me = await client.get("/api/auth/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["user"]["email"] == "admin@localhost"
    assert body["authMethod"] == "auto_admin"
    assert body["roles"] == ["Admin"]
    assert "ViewAudit" in body["permissions"]

    made = await client.post("/api/auth/tokens", json={"name": "local"})
    assert made.status_code == 201, made.text
    entries = (await client.get("/api/admin/audit")).json()["items"]
    assert entries[0]["action"] == "auth.token.create"
    assert entries[0]["actor"]["email"] == "admin@localhost"
    assert entries[0]["actor"]["userId"] == body["user"]["id"]


async def test_credentials_that_are_given_are_still_checked(client: httpx.AsyncClient) -> None:
    for authorization in ("Bearer not-a-jwt", "Bearer sk_not_a_real_token", "Basic YTpi"):
        refused = await client.get("/api/auth/me", headers={"Authorization": authorization})
        assert_error(refused, 401, "unauthenticated")


async def test_a_signed_in_user_is_themselves_not_the_admin(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/admin/users",
        json={
            "email": "viewer@example.com",
            "displayName": "Viewer",
            "password": PASSWORD,
            "roles": ["Viewer"],
            "mustChangePassword": False,
        },
    )
    assert created.status_code == 201, created.text
    viewer = await login(client, "viewer@example.com")
    me = (await client.get("/api/auth/me", headers=viewer.headers)).json()
    assert (me["user"]["email"], me["authMethod"]) == ("viewer@example.com", "jwt")
    denied = await client.get("/api/admin/audit", headers=viewer.headers)
    assert_error(denied, 403, "not_authorized")


async def test_no_setup_secret_is_written_and_setup_is_closed(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    assert not (data_dir / "setup-token").exists()
    setup = await client.post(
        "/api/auth/setup",
        json={
            "setupToken": "anything",
            "email": "late@example.com",
            "password": PASSWORD,
            "displayName": "Late",
        },
    )
    assert_error(setup, 409, "conflict")


REFUSALS = [
    ({"SOPHON_HOST": "0.0.0.0"}, [], "the non-loopback bind address 0.0.0.0"),  # noqa: S104 — refused
    ({}, ["--host", "::"], "the non-loopback bind address ::"),
    ({"SOPHON_TIER": "Pro"}, [], "only with tier Personal"),
]


@pytest.mark.slow
def test_serve_refuses_auto_admin_off_loopback_or_outside_personal(tmp_path: Path) -> None:
    runs = []
    for index, (env, args, expected) in enumerate(REFUSALS):  # in parallel: each takes ~2 s
        data = tmp_path / f"home{index}"
        process = subprocess.Popen(
            [sys.executable, "-m", "sophon", "serve", *args],
            env=sophon_env(data, SOPHON_AUTO_ADMIN="true", **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs.append((process, data, expected))
    try:
        for process, data, expected in runs:
            _, stderr = process.communicate(timeout=60)
            assert process.returncode == 2, stderr
            lines = stderr.strip().splitlines()
            assert len(lines) == 1, stderr
            assert lines[0].startswith("sophon: invalid setting SOPHON_AUTO_ADMIN:"), lines[0]
            assert expected in lines[0]
            assert not data.exists()  # refused before touching the data dir
    finally:
        for process, _, _ in runs:  # a Gateway that did start must not outlive the test
            if process.poll() is None:
                process.kill()
                process.communicate()
