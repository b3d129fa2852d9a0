"""Wire models of `/api/connections`: the secret is write-only (create, rotate) and only ever
read back masked, with the `{{vault:<name>}}` reference that uses it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

AuthType = Literal["apiKey", "bearer", "basic"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""What `{{vault:<name>}}` can name: letters, digits, `_`, `.` and `-`."""


class ConnectionIn(RequestModel):
    """An API-key, bearer-token or basic (username + password) credential. `testUrl`: an
    http(s) URL the test calls with the credential (through the outbound guard)."""

    name: str = Field(pattern=NAME)
    service: str = Field("custom", min_length=1, max_length=64)
    auth_type: AuthType = "apiKey"
    secret: str = Field(min_length=1, max_length=8000)
    """The key, the token, or (basic) the password."""
    username: str | None = Field(None, max_length=200)
    header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,100}$")
    """apiKey: the header it is sent in (default `X-API-Key`)."""
    test_url: str | None = Field(None, max_length=2000)


class RotateIn(RequestModel):
    secret: str = Field(min_length=1, max_length=8000)


class ConnectionOut(ApiModel):
    id: str
    name: str
    service: str
    auth_type: AuthType
    username: str | None
    header: str | None
    test_url: str | None
    secret: str
    """Masked."""
    reference: str
    """How configuration refers to the secret: `{{vault:<name>}}`."""
    rotated_at: Timestamp | None
    last_tested_at: Timestamp | None
    last_test_ok: bool | None
    last_error: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ConnectionTestOut(ApiModel):
    """`tested` is false when nothing could honestly be checked (no test URL configured)."""

    ok: bool
    tested: bool
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    tested_at: Timestamp
