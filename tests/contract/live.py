"""A live Gateway for the contract fuzzing: a real `sophon serve` process with an Admin signed in,
and fresh objects for the operations whose paths name one."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import requests

from sophon.realtime.hubs import HUBS
from tests.e2e.server import GatewayProcess
from tests.identity_helpers import PASSWORD

ADMIN_EMAIL = "fuzz-admin@example.com"

# The fuzzer sends thousands of requests from one address, many with bad credentials: limits that
# would otherwise turn most answers into 429 are lifted, so each operation's own behaviour shows.
FUZZ_ENV = {
    "SOPHON_RATE_LIMITS_ENABLED": "false",
    "SOPHON_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100000",
    "SOPHON_LOGIN_MAX_FAILURES_PER_IP": "100000",
    "SOPHON_AUTH_FAILURES_PER_MINUTE": "100000",
    "SOPHON_LOGIN_SLOWDOWN_MS": "0",
    "SOPHON_HUB_LONG_POLL_SECONDS": "1",
    "SOPHON_LOG_LEVEL": "WARNING",
}
TIMEOUT = 30.0  # harness calls wait out a loaded machine rather than fail the operation


class LiveGateway:
    def __init__(self, process: GatewayProcess, data_dir: Path) -> None:
        self.process = process
        self.url = process.url
        self.token = ""
        self.session = requests.Session()  # keep-alive across the fuzzer's calls
        self.seeded: dict[str, str] = {}  # objects made for the operation under test
        setup = (data_dir / "setup-token").read_text().strip()
        response = httpx.post(
            f"{self.url}/api/auth/setup",
            json={
                "setupToken": setup,
                "email": ADMIN_EMAIL,
                "password": PASSWORD,
                "displayName": "Fuzz Admin",
            },
            timeout=TIMEOUT,
        )
        assert response.status_code == 201, response.text
        self.token = response.json()["accessToken"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ensure_signed_in(self) -> None:
        """A previous operation may have ended the Admin's session (logout, revoked session):
        sign in again so every operation is fuzzed as a working Admin."""
        if (
            httpx.get(f"{self.url}/api/auth/me", headers=self.headers, timeout=TIMEOUT).status_code
            == 200
        ):
            return
        response = httpx.post(
            f"{self.url}/api/auth/login",
            json={"email": ADMIN_EMAIL, "password": PASSWORD},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["accessToken"]

    def create(self, path: str, body: dict[str, Any], key: str = "id") -> str:
        response = httpx.post(f"{self.url}{path}", headers=self.headers, json=body, timeout=TIMEOUT)
        assert response.status_code in (201, 202), response.text
        return str(response.json()[key])

    def seed(self, names: Iterable[str]) -> dict[str, str]:
        """Fresh objects for the path parameters an operation names, made just for it, so an
        earlier operation deleting or changing its own objects cannot starve a later one."""
        made: dict[str, str] = {}
        tag = secrets.token_hex(4)
        for name in names:
            if name == "agent_id":
                made[name] = self.create("/api/agents", {"name": f"fuzz-{tag}"})
            elif name == "user_id":
                made[name] = self.create(
                    "/api/admin/users",
                    {"email": f"u{tag}@example.com", "displayName": tag, "password": PASSWORD},
                )
            elif name == "role_id":
                made[name] = self.create(
                    "/api/admin/roles", {"name": f"role-{tag}", "permissions": ["ViewUsers"]}
                )
            elif name == "tenant_id":
                made[name] = self.create("/api/admin/tenants", {"slug": f"t{tag}", "name": tag})
            elif name == "provider_id":
                made[name] = self.create(
                    "/api/models/providers",
                    {"name": f"p{tag}", "providerType": "openai", "defaultModel": "gpt-4o"},
                )
            elif name == "entry_id":
                made[name] = self.create("/api/memory/entries", {"content": f"fuzz fact {tag}"})
            elif name == "token_id":
                made[name] = self.create("/api/auth/tokens", {"name": f"tok-{tag}"})
            elif name == "hub":
                made[name] = HUBS[0].name
            elif name in ("session_id", "task_id"):
                made[name] = self.create(
                    "/api/chat", {"content": "hello"}, key=name.replace("_id", "Id")
                )
        return made

    def reset_processing(self) -> None:
        """Pause and drain are per-tenant switches the fuzzer may flip: turn processing back on."""
        response = httpx.post(f"{self.url}/api/ops/resume", headers=self.headers, timeout=TIMEOUT)
        assert response.status_code == 200, response.text
