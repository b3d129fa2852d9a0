"""`X-Forwarded-For` chooses the address per-IP limits count only when it comes from a proxy named
in SOPHON_TRUSTED_PROXIES; by default not even loopback is believed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.server import GatewayProcess

pytestmark = pytest.mark.slow

PER_IP = "2"
THROTTLE = {
    "SOPHON_LOGIN_MAX_FAILURES_PER_IP": PER_IP,
    "SOPHON_LOGIN_MAX_FAILURES_PER_ACCOUNT": "100",
    "SOPHON_LOGIN_SLOWDOWN_MS": "0",
}


def _failed_logins_from(gateway: GatewayProcess, addresses: list[str]) -> list[int]:
    statuses = []
    for index, address in enumerate(addresses):
        response = httpx.post(
            f"{gateway.url}/api/auth/login",
            json={"email": f"nobody{index}@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": address},
        )
        statuses.append(response.status_code)
    return statuses


def test_forwarded_for_from_loopback_is_ignored_by_default(tmp_path: Path) -> None:
    with GatewayProcess(tmp_path / "home", **THROTTLE) as gateway:
        statuses = _failed_logins_from(gateway, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    assert statuses == [401, 401, 429]  # all three counted against 127.0.0.1


def test_forwarded_for_from_a_trusted_proxy_is_the_client(tmp_path: Path) -> None:
    trusted = {"SOPHON_TRUSTED_PROXIES": "127.0.0.1/32", **THROTTLE}
    addresses = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.1", "198.51.100.1"]
    with GatewayProcess(tmp_path / "home", **trusted) as gateway:
        statuses = _failed_logins_from(gateway, addresses)
    assert statuses == [401, 401, 401, 401, 429]  # counted per forwarded address
