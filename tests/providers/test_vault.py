"""The vault: AES-256-GCM round trips; a wrong key, wrong owner or tampered blob raises."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from sophon.gateway import Gateway
from sophon.platform.vault import Vault, VaultError, mask_secret, vault_key_from_setting
from sophon.settings import SettingsError, load_settings


def test_round_trip_with_a_fresh_nonce_each_time() -> None:
    vault = Vault(os.urandom(32))
    first, second = vault.encrypt("sk-abc", "prov_1"), vault.encrypt("sk-abc", "prov_1")
    assert first != second
    assert "sk-abc" not in first
    assert vault.decrypt(first, "prov_1") == vault.decrypt(second, "prov_1") == "sk-abc"


def test_wrong_key_owner_or_tampering_raises() -> None:
    vault = Vault(os.urandom(32))
    blob = vault.encrypt("sk-abc", "prov_1")
    with pytest.raises(VaultError):
        Vault(os.urandom(32)).decrypt(blob, "prov_1")
    with pytest.raises(VaultError):
        vault.decrypt(blob, "prov_2")
    raw = bytearray(base64.urlsafe_b64decode(blob.removeprefix("v1:")))
    raw[-1] ^= 1
    with pytest.raises(VaultError):
        vault.decrypt("v1:" + base64.urlsafe_b64encode(bytes(raw)).decode(), "prov_1")
    for garbage in ("v1:%%%", "v1:AAAA", "v2:" + blob[3:], "plaintext"):
        with pytest.raises(VaultError):
            vault.decrypt(garbage, "prov_1")


def test_key_size_and_setting() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Vault(b"short")
    key = os.urandom(32)
    assert vault_key_from_setting(base64.b64encode(key).decode()) == key
    assert vault_key_from_setting(base64.urlsafe_b64encode(key).decode()) == key
    with pytest.raises(SettingsError, match="SOPHON_VAULT_KEY"):
        load_settings(vault_key=base64.b64encode(b"x" * 16).decode())


def test_masks_show_at_most_three_and_four_characters() -> None:
    assert mask_secret("sk-proj-abcdefghijklmnop1234") == "sk-…1234"
    assert mask_secret("abcdefghij") == "…ij"
    assert mask_secret("abc") == "…"


async def test_the_vault_key_setting_is_used_and_never_shown(tmp_path: Path) -> None:
    key = os.urandom(32)
    settings = load_settings(data=tmp_path, vault_key=base64.b64encode(key).decode())
    assert base64.b64encode(key).decode() not in repr(settings)
    gateway = Gateway.build(settings)
    try:
        blob = gateway.vault.encrypt("sk-abc", "prov_1")
        assert Vault(key).decrypt(blob, "prov_1") == "sk-abc"
        assert not (tmp_path / "security" / "vault.key").exists()
    finally:
        await gateway.close()
