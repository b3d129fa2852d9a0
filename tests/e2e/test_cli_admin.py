"""`sophon admin create-user` makes a user who can then sign in over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import GatewayProcess, sophon_env

pytestmark = pytest.mark.slow


def _create(
    data: Path, *args: str, password: str = "a-fine-password"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sophon", "admin", "create-user", *args],
        env=sophon_env(data, SOPHON_NEW_PASSWORD=password),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_user_then_sign_in(tmp_path: Path) -> None:
    data = tmp_path / "home"
    made = _create(data, "--email", "Root@Example.com")
    assert made.returncode == 0, made.stderr
    assert "root@example.com" in made.stdout
    assert "Admin" in made.stdout
    assert not (data / "setup-token").exists()
    second = _create(data, "--email", "member@example.com")
    assert "Member" in second.stdout  # an ordinary user, who may chat (a Viewer may not)
    for look_alike in ("root@example.com", "\uff32\uff2f\uff2f\uff34@example.com"):  # fullwidth
        duplicate = _create(data, "--email", look_alike)
        assert duplicate.returncode == 1
        assert duplicate.stderr.strip() == "sophon: A user with this email already exists."
    weak = _create(data, "--email", "weak@example.com", password="abc")
    assert weak.returncode == 1
    with GatewayProcess(data) as gateway:
        response = httpx.post(
            f"{gateway.url}/api/auth/login",
            json={"email": "root@example.com", "password": "a-fine-password"},
        )
        assert response.status_code == 200
        token = response.json()["accessToken"]
        me = httpx.get(f"{gateway.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["roles"] == ["Admin"]
