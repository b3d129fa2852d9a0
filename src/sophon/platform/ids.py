"""Prefixed, time-sortable identifiers: `<prefix>_<ULID>` (Crockford base32, 26 characters)."""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
_last_rand = 0
_entropy = b""
_ENTROPY_CHUNK = 4096  # one getrandom() call per ~400 ids: the syscall is slow on some hosts


def _random_80_bits() -> int:
    global _entropy
    if len(_entropy) < 10:
        _entropy = os.urandom(_ENTROPY_CHUNK)
    chunk, _entropy = _entropy[:10], _entropy[10:]
    return int.from_bytes(chunk, "big")


ID_PATTERN = re.compile(r"^[a-z]{2,8}_[0-9A-HJKMNP-TV-Z]{26}$")


_SYMBOLS = _ALPHABET.encode()


def _encode(value: int) -> str:
    """26 Crockford base32 characters of a 128-bit value (the first carries 3 bits)."""
    out = bytearray(26)
    for i in range(25, -1, -1):
        out[i] = _SYMBOLS[value & 31]
        value >>= 5
    return out.decode()


def ulid() -> str:
    """A monotonic ULID: within one millisecond the random part increments, so ids sort by
    creation order even when many are made at once."""
    global _last_ms, _last_rand
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            _last_rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            _last_ms = now
            _last_rand = _random_80_bits() >> 1  # leave room to increment
        rand = _last_rand
    return _encode(now << 80 | rand)


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def is_id(value: str, prefix: str | None = None) -> bool:
    if not ID_PATTERN.match(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
