"""Trust: an Ed25519 detached signature over the archive's sha256 (the 64 lowercase hex
characters), carried as a small JSON document that names the signer's public key:
`{"algorithm": "ed25519", "publicKey": "<base64 raw 32 bytes>", "signature": "<base64>"}`.

The signature is always checked against the key it names, so a tampered archive (or signature)
is refused with 422 whoever signed it; the package counts as `signed` only when that key is one
of `SOPHON_SKILLS_TRUSTED_KEYS` (comma-separated `name=base64` or bare base64 public keys)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sophon.platform.errors import ValidationFailed

SignatureStatus = Literal["signed", "unsigned", "untrusted", "bundled"]


class SignatureMismatch(ValidationFailed):
    code = "signature_mismatch"
    default_message = "The archive does not match its signature (tampered?)."


class UnsignedRefused(ValidationFailed):
    code = "unsigned_skill"
    default_message = "The skill is not signed by a trusted key."


@dataclass(frozen=True)
class Verdict:
    sha256: str
    status: SignatureStatus
    signer: str | None  # the trusted key's name, or the unknown key's fingerprint


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def trusted_keys(setting: str | None) -> dict[bytes, str]:
    """Public key bytes -> name, from the setting (a bad entry is skipped, never trusted)."""
    keys: dict[bytes, str] = {}
    for entry in (setting or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, _, encoded = entry.partition("=")
        raw = _b64(encoded) if encoded.rstrip("=") else None
        if raw is None or len(raw) != 32:
            name, raw = "", _b64(entry)
        if raw is not None and len(raw) == 32:
            keys[raw] = name or fingerprint(raw)
    return keys


def fingerprint(public_key: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]


def verify(data: bytes, signature: str | None, trusted: dict[bytes, str]) -> Verdict:
    """Raises SignatureMismatch for a signature that does not verify."""
    digest = sha256_hex(data)
    if not signature or not signature.strip():
        return Verdict(digest, "unsigned", None)
    public_key, raw_signature = _parse(signature)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw_signature, digest.encode())
    except (InvalidSignature, ValueError):
        raise SignatureMismatch(
            "The archive's sha256 does not match its signature: it was changed after signing.",
            {"sha256": digest, "key": fingerprint(public_key)},
        ) from None
    name = trusted.get(public_key)
    if name is None:
        return Verdict(digest, "untrusted", fingerprint(public_key))
    return Verdict(digest, "signed", name)


def sign(data: bytes, private_key: Ed25519PrivateKey) -> str:
    """The signature document for data (used by tests, the CLI and the benchmark)."""
    public = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(sha256_hex(data).encode())
    return json.dumps(
        {
            "algorithm": "ed25519",
            "publicKey": base64.b64encode(public).decode(),
            "signature": base64.b64encode(signature).decode(),
        }
    )


def _parse(signature: str) -> tuple[bytes, bytes]:
    try:
        document: Any = json.loads(signature)
    except ValueError:
        document = None
    if (
        not isinstance(document, dict)
        or document.get("algorithm", "ed25519") != "ed25519"
        or not isinstance(document.get("publicKey"), str)
        or not isinstance(document.get("signature"), str)
    ):
        raise ValidationFailed(
            'A signature is a JSON document {"algorithm": "ed25519", "publicKey", "signature"}.',
            {"path": "signature"},
        )
    public_key, raw = _b64(document["publicKey"]), _b64(document["signature"])
    if public_key is None or len(public_key) != 32 or raw is None or len(raw) != 64:
        raise ValidationFailed("The signature's key or value is malformed.", {"path": "signature"})
    return public_key, raw


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        return None
