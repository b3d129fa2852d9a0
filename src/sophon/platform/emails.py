"""The one form an email address is stored, looked up and compared in."""

from __future__ import annotations

import unicodedata


def normalize_email(email: str) -> str:
    """NFKC with case folding (Unicode's NFKC_Casefold, approximately): the fullwidth form of
    `ADMIN@example.com`, `Admin@Example.com` and `admin@example.com` are one address, so
    look-alikes can't become separate accounts."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
