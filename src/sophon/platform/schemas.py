"""The one base for wire models: camelCase JSON, snake_case Python, UTC `...Z` timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel

from sophon.platform.clock import iso

Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str, when_used="json")]
MAX_INT32 = 2**31 - 1  # the widest integer column; a larger number would overflow the driver
VersionNumber = Annotated[int, Path(ge=1, le=MAX_INT32, description="A version, from 1.")]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        serialize_by_alias=True,
    )


class RequestModel(ApiModel):
    """Request bodies refuse unknown fields so a typo is a 422, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(ApiModel):
    code: str
    message: str
    details: dict[str, object]
    request_id: str | None


class ErrorEnvelope(ApiModel):
    error: ErrorBody


ERROR_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route may answer with (`GuardedRoute`
    documents each with the error envelope)."""
    return {status: {} for status in statuses}
