"""Secrets encrypted at rest: AES-256-GCM with a fresh nonce per secret and associated data that
binds each ciphertext to its owner (e.g. the provider id), so it cannot be moved to another row."""

from __future__ import annotations

import base64
import binascii
import os
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = "v1"


class VaultError(Exception):
    """A blob could not be decrypted: wrong key, wrong associated data, tampered or malformed."""


class Vault:
    """`encrypt` returns `v1:<base64url(nonce || ciphertext || tag)>`; `decrypt` returns the
    plaintext or raises VaultError, never garbage."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the vault key must be {KEY_BYTES} bytes, got {len(key)}")
        self._key = key

    @cached_property
    def _aead(self) -> AESGCM:
        # cryptography takes ~0.2 s to import: loaded on the first secret, not at start-up
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self._key)

    def encrypt(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, blob: str, aad: str) -> str:
        version, _, body = blob.partition(":")
        if version != _VERSION:
            raise VaultError("unknown vault blob format")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
        except (binascii.Error, ValueError):
            raise VaultError("malformed vault blob") from None
        if len(raw) < NONCE_BYTES + 16:
            raise VaultError("malformed vault blob")
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise VaultError("failed authentication (wrong key or tampered)") from None
        return plain.decode()


def vault_key_from_setting(value: str) -> bytes:
    """The `vault_key` setting: base64 (standard or URL-safe) of 32 random bytes."""
    try:
        key = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("vault_key must be base64 of 32 bytes") from None
    if len(key) != KEY_BYTES:
        raise ValueError("vault_key must be base64 of 32 bytes")
    return key


def mask_secret(secret: str) -> str:
    """At most the first 3 and last 4 characters (`sk-…abcd`); short secrets show less."""
    if len(secret) >= 16:
        return f"{secret[:3]}…{secret[-4:]}"
    if len(secret) >= 8:
        return f"…{secret[-2:]}"
    return "…"
