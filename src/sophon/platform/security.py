"""Credential primitives: argon2id passwords (hashed off the event loop), HS256 JWTs, `sk_`
tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sophon.platform.clock import utcnow

TOKEN_PREFIX = "sk_"
JWT_ALGORITHM = "HS256"
_hasher = PasswordHasher()  # argon2id with the library's recommended parameters (RFC 9106 low-mem)
_dummy_hash: str | None = None


def configure_password_hashing(memory_kib: int, time_cost: int, parallelism: int) -> None:
    """Sets the process's argon2id cost (tests lower it; existing hashes keep verifying)."""
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
    _dummy_hash = None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


async def burn_password_check(password: str) -> None:
    """Spends the same time as a real check, so an unknown email can't be told apart by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await hash_password(secrets.token_urlsafe(16))
    await verify_password(_dummy_hash, password)


def new_api_token() -> tuple[str, str, str]:
    """A fresh token: (the secret shown once, its display prefix, its stored hash)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[:11], token_hash(secret)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    tenant_id: str
    expires_at: datetime


class JwtCodec:
    def __init__(self, key: bytes, lifetime: timedelta) -> None:
        self._key = key
        self.lifetime = lifetime

    def derived(self, purpose: str, lifetime: timedelta) -> JwtCodec:
        """A codec for another purpose, keyed from this one: its tokens and this codec's never
        pass for each other."""
        key = hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()
        return JwtCodec(key, lifetime)

    def issue(self, user_id: str, session_id: str, tenant_id: str) -> tuple[str, datetime]:
        now = utcnow()
        expires = now + self.lifetime
        claims = {
            "sub": user_id,
            "sid": session_id,
            "tid": tenant_id,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        import jwt  # ~0.2 s with cryptography: loaded on first use, not at start-up

        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM), expires

    def read(self, token: str) -> AccessClaims | None:
        """The claims of a genuine, unexpired token; None otherwise."""
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[JWT_ALGORITHM],
                # times are checked below against the Gateway's clock, like every other deadline
                options={
                    "require": ["sub", "sid", "tid", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            return None
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        if expires_at <= utcnow():
            return None
        return AccessClaims(
            user_id=str(claims["sub"]),
            session_id=str(claims["sid"]),
            tenant_id=str(claims["tid"]),
            expires_at=expires_at,
        )
