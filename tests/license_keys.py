"""Minting `sl_` licence keys in tests: a key pair of our own plays the licence authority."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALL_FEATURES = ("rbac", "multi_tenancy", "sso", "audit_streaming", "external_vault", "compliance")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_keypair() -> tuple[Ed25519PrivateKey, str]:
    """A signing key and its public half as `SOPHON_LICENSE_PUBLIC_KEY` wants it (raw, base64)."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, base64.b64encode(raw).decode()


def sign(private: Ed25519PrivateKey, payload_bytes: bytes) -> str:
    """An `sl_` key over exactly these payload bytes."""
    return f"sl_{b64url(payload_bytes)}.{b64url(private.sign(payload_bytes))}"


def mint(private: Ed25519PrivateKey, **payload: Any) -> str:
    """An `sl_` key for this payload (`tier`, `maxUsers`, `features`, `expiresAt`, ...)."""
    return sign(private, json.dumps(payload, separators=(",", ":")).encode())


def iso_in(delta: timedelta) -> str:
    """An ISO 8601 UTC time `delta` from now, as a licence's `expiresAt`."""
    moment = datetime.now(UTC) + delta
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def enterprise_payload(
    *,
    features: tuple[str, ...] | list[str] = ALL_FEATURES,
    max_users: int | None = 100,
    expires_in: timedelta = timedelta(days=365),
    issued_to: str = "Example Corp",
    license_id: str = "lic_test_0001",
    tier: str = "Enterprise",
) -> dict[str, Any]:
    """The payload of a licence as the authority would issue it; pass to `mint(private, **...)`."""
    return {
        "tier": tier,
        "maxUsers": max_users,
        "features": list(features),
        "expiresAt": iso_in(expires_in),
        "issuedTo": issued_to,
        "licenseId": license_id,
    }


@dataclass(frozen=True)
class Authority:
    """A licence authority of the test's own: its public key goes into the Gateway's settings."""

    private: Ed25519PrivateKey
    public_b64: str

    @classmethod
    def new(cls) -> Authority:
        return cls(*make_keypair())

    def licence(self, **options: Any) -> str:
        """A signed Enterprise licence; `options` are `enterprise_payload`'s keyword arguments."""
        return mint(self.private, **enterprise_payload(**options))
