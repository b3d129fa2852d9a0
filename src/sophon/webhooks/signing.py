"""Signatures: our outbound headers (Standard Webhooks plus `X-Sophon-Signature`) and the
verification of the five inbound schemes, every comparison in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from enum import StrEnum

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


class Scheme(StrEnum):
    SOPHON = "sophon"
    GITHUB = "github"
    STRIPE = "stripe"
    SLACK = "slack"
    STANDARD = "standard"


class SignatureRejected(Exception):
    """The request's signature is missing, wrong or outside the time tolerance."""


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the bytes behind `whsec_`; a secret that is
    not base64 (chosen by hand for an inbound receiver) is used as it is."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        return secret.encode()


def _hmac_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sophon_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret string as shown."""
    return "sha256=" + _hmac_hex(secret.encode(), body)


def outbound_headers(
    secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The signature headers of one attempt; `secrets_` is the current secret first, then a
    previous one still within its overlap (each adds a `v1,` entry)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_signature(s, msg_id, timestamp, body) for s in secrets_
        ),
        "X-Sophon-Signature": sophon_signature(secrets_[0], body),
    }


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _within(timestamp: str | None, now: float, tolerance: float) -> None:
    if not timestamp:
        raise SignatureRejected("the timestamp header is missing")
    try:
        moment = int(timestamp)
    except ValueError:
        raise SignatureRejected("the timestamp is not a number of seconds") from None
    if abs(now - moment) > tolerance:
        raise SignatureRejected("the timestamp is outside the tolerance")


def verify(
    scheme: Scheme,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Raises SignatureRejected unless the request is signed with `secret` under `scheme`.
    `headers` must be case-insensitive (Starlette's are)."""
    if scheme is Scheme.SOPHON or scheme is Scheme.GITHUB:
        header = "x-sophon-signature" if scheme is Scheme.SOPHON else "x-hub-signature-256"
        given = headers.get(header)
        if not given:
            raise SignatureRejected(f"the {header} header is missing")
        if not _equal(given.strip(), sophon_signature(secret, body)):
            raise SignatureRejected("the signature does not match")
        return
    if scheme is Scheme.STRIPE:
        _verify_stripe(secret, headers.get("stripe-signature"), body, now, tolerance)
        return
    if scheme is Scheme.SLACK:
        stamp = headers.get("x-slack-request-timestamp")
        _within(stamp, now, tolerance)
        expected = "v0=" + _hmac_hex(secret.encode(), f"v0:{stamp}:".encode() + body)
        if not _equal(headers.get("x-slack-signature", ""), expected):
            raise SignatureRejected("the signature does not match")
        return
    _verify_standard(secret, headers, body, now, tolerance)


def _verify_stripe(
    secret: str, header: str | None, body: bytes, now: float, tolerance: float
) -> None:
    if not header:
        raise SignatureRejected("the Stripe-Signature header is missing")
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamp = next((v for k, v in parts if k.strip() == "t"), None)
    _within(stamp, now, tolerance)
    expected = _hmac_hex(secret.encode(), f"{stamp}.".encode() + body)
    if not any(k.strip() == "v1" and _equal(v.strip(), expected) for k, v in parts):
        raise SignatureRejected("the signature does not match")


def _verify_standard(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> None:
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    if not msg_id:
        raise SignatureRejected("the webhook-id header is missing")
    _within(stamp, now, tolerance)
    expected = standard_signature(secret, msg_id, int(str(stamp)), body)
    given = (headers.get("webhook-signature") or "").split()
    if not any(_equal(entry, expected) for entry in given):
        raise SignatureRejected("the signature does not match")
