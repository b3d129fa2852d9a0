"""Licence keys: `sl_` + base64url(payload JSON) + `.` + base64url(Ed25519 signature of the payload
bytes), unpadded. The key in the settings (`SOPHON_LICENSE_KEY`) wins over one installed through
the API (kept in the database, with a cache file in `config/license.key`)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sophon.audit import service as audit
from sophon.platform.clock import utcnow
from sophon.platform.errors import Conflict, ValidationFailed
from sophon.platform.kv import get_setting, put_setting
from sophon.platform.principal import Principal
from sophon.settings import Settings

KEY_PREFIX = "sl_"
SETTING_KEY = "license.key"
EXPIRING_WITHIN = timedelta(days=60)


class LicenseStatus(StrEnum):
    ACTIVE = "Active"
    EXPIRING = "Expiring"
    EXPIRED = "Expired"
    INVALID = "Invalid"


@dataclass(frozen=True)
class License:
    status: LicenseStatus
    source: str | None = None  # "config" | "installed" | "given"
    tier: str | None = None
    max_users: int | None = None
    features: tuple[str, ...] = ()
    expires_at: datetime | None = None
    issued_to: str | None = None
    license_id: str | None = None
    problem: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.status in (LicenseStatus.ACTIVE, LicenseStatus.EXPIRING)

    def has_feature(self, feature: str) -> bool:
        return self.valid and self.tier == "Enterprise" and feature in self.features


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=32)
def _verified_payload(key: str, public_key: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(payload, None) when genuine, else (None, why). Cached: keys are re-read on every check."""
    if not key.startswith(KEY_PREFIX) or key.count(".") != 1:
        return None, "not an sl_ licence key"
    if not public_key:
        return None, "no licence public key is configured (SOPHON_LICENSE_PUBLIC_KEY)"
    # imported here: cryptography costs ~0.2 s at start-up and most Gateways hold no licence key
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    body, signature = key[len(KEY_PREFIX) :].split(".")
    try:
        payload_bytes = _b64(body)
        verifier = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        verifier.verify(_b64(signature), payload_bytes)
        payload = json.loads(payload_bytes)
    except InvalidSignature:
        return None, "the signature does not match"
    except (binascii.Error, ValueError):
        return None, "the key is malformed"
    if not isinstance(payload, dict):
        return None, "the payload is not an object"
    return payload, None


def read_key(key: str, public_key: str | None, source: str) -> License:
    payload, problem = _verified_payload(key.strip(), public_key)
    if payload is None:
        return License(LicenseStatus.INVALID, source=source, problem=problem)
    try:
        expires_at = datetime.fromisoformat(str(payload["expiresAt"]).replace("Z", "+00:00"))
        if expires_at.tzinfo is None:  # a bare date or time is UTC; comparing it would raise
            expires_at = expires_at.replace(tzinfo=UTC)
        features = payload.get("features", [])
        max_users = payload.get("maxUsers")
        max_users = int(max_users) if max_users is not None else None
        texts = [payload.get(name) for name in ("tier", "issuedTo", "licenseId")]
        if not isinstance(features, list) or not all(
            isinstance(v, str) for v in [*features, *(t for t in texts if t is not None)]
        ):
            raise TypeError("a field of the wrong type")
    except (KeyError, TypeError, ValueError):
        return License(
            LicenseStatus.INVALID, source=source, problem="the payload is incomplete or malformed"
        )
    now = utcnow()
    if expires_at <= now:
        status = LicenseStatus.EXPIRED
    elif expires_at - now <= EXPIRING_WITHIN:
        status = LicenseStatus.EXPIRING
    else:
        status = LicenseStatus.ACTIVE
    return License(
        status=status,
        source=source,
        tier=payload.get("tier"),
        max_users=max_users,
        features=tuple(features),
        expires_at=expires_at,
        issued_to=payload.get("issuedTo"),
        license_id=payload.get("licenseId"),
        payload=payload,
    )


class LicenseService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache_file: Path = settings.data / "config" / "license.key"

    async def current(self, db: AsyncSession) -> License | None:
        """The licence in force, read fresh (another replica may have installed one)."""
        if self.settings.license_key:
            return read_key(self.settings.license_key, self.settings.license_public_key, "config")
        installed = await get_setting(db, SETTING_KEY)
        if not installed:
            return None
        return read_key(str(installed), self.settings.license_public_key, "installed")

    async def has_feature(self, db: AsyncSession, feature: str) -> bool:
        current = await self.current(db)
        return current is not None and current.has_feature(feature)

    async def features(self, db: AsyncSession) -> list[str]:
        """The licence features in effect (what `has_feature` grants), for clients to show."""
        current = await self.current(db)
        if current is None:
            return []
        return sorted(f for f in current.features if current.has_feature(f))

    def verify(self, key: str) -> License:
        return read_key(key, self.settings.license_public_key, "given")

    async def install(self, db: AsyncSession, actor: Principal, key: str) -> License:
        if self.settings.license_key:
            raise Conflict("A licence key is set in the configuration, which takes precedence.")
        found = self.verify(key)
        if not found.valid:
            raise ValidationFailed(
                f"The licence key is {found.status.value.lower()}: {found.problem or 'expired'}.",
                {"status": found.status.value, "problem": found.problem},
            )
        await put_setting(db, SETTING_KEY, key.strip())
        await asyncio.to_thread(self._write_cache, key.strip())
        await audit.record(
            db,
            actor,
            "license.install",
            ("license", found.license_id),
            details={"tier": found.tier, "expiresAt": found.payload.get("expiresAt")},
        )
        return read_key(key, self.settings.license_public_key, "installed")

    def _write_cache(self, key: str) -> None:
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.cache_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
