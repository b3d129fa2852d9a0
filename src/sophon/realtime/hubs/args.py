"""Checks for hub method arguments, which arrive as plain JSON values."""

from __future__ import annotations

from typing import Any

from sophon.platform.errors import InvalidRequest

MAX_ID_CHARS = 100


def text_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise InvalidRequest(f"'{name}' must be a non-empty string.")
    return value


def optional_text(value: Any, name: str, limit: int = 2000) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"'{name}' must be a string of at most {limit} characters.")
    return value


def json_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{name}' must be a JSON object.")
    return value
