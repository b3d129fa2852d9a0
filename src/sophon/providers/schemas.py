"""Wire models of `/api/models`: providers (the API key is write-only) and catalog entries."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

ProviderType = Literal["openai", "anthropic", "echo"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"  # no "/": it separates name and model
MIN_PRIORITY, MAX_PRIORITY = 0, 1000
MODEL_ID_MAX = 200
MAX_MODELS = 500


class ProviderStatus(StrEnum):
    """`Active` providers are routed to; `Inactive` ones never; `Error` (set by a failed test)
    ones only after every Active one failed. A passing test turns Error back into Active."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"
    ERROR = "Error"


class Capabilities(ApiModel):
    vision: bool = False
    function_calling: bool = False
    streaming: bool = True
    reasoning: bool = False


class ModelSpec(ApiModel):
    """A model a provider serves. Prices are USD per 1M tokens."""

    id: str = Field(min_length=1, max_length=MODEL_ID_MAX)
    display_name: str | None = Field(None, max_length=200)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    context_window: int | None = Field(None, ge=1)
    max_output: int | None = Field(None, ge=1)
    input_price_per_1m: float | None = Field(None, ge=0, alias="inputPricePer1M")
    output_price_per_1m: float | None = Field(None, ge=0, alias="outputPricePer1M")


def _checked_base_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials; use apiKey")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value.rstrip("/")


class _ProviderFields(RequestModel):
    @field_validator("base_url", check_fields=False)
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return _checked_base_url(value)

    @field_validator("models", check_fields=False)
    @classmethod
    def _unique_models(cls, value: list[ModelSpec] | None) -> list[ModelSpec] | None:
        if value is not None and len({m.id for m in value}) != len(value):
            raise ValueError("model ids must be unique")
        return value


class ProviderIn(_ProviderFields):
    """`providerType` (also accepted as `type`) is the wire format. `baseUrl` defaults to the
    vendor's public API (OpenAI, Anthropic); `echo` ignores it and `apiKey`. `defaultModel` is
    used when the caller names no model; else the first of `models`. Given neither, `models` are
    what the server lists (`GET /models`), fetched now and again by each test while empty."""

    name: str = Field(pattern=NAME_PATTERN)
    type: ProviderType = Field(validation_alias=AliasChoices("providerType", "type"))
    base_url: str | None = Field(None, max_length=2000)
    api_key: str | None = Field(None, min_length=1, max_length=4000)
    priority: int = Field(1, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    status: Literal[ProviderStatus.ACTIVE, ProviderStatus.INACTIVE] = ProviderStatus.ACTIVE
    default_model: str | None = Field(None, min_length=1, max_length=200)
    models: list[ModelSpec] = Field(default_factory=list, max_length=MAX_MODELS)


class ProviderPatchIn(_ProviderFields):
    """Absent fields stay; `apiKey: null` removes the key; the type cannot change."""

    name: str | None = Field(None, pattern=NAME_PATTERN)
    base_url: str | None = Field(None, max_length=2000)
    api_key: str | None = Field(None, min_length=1, max_length=4000)
    priority: int | None = Field(None, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    status: Literal[ProviderStatus.ACTIVE, ProviderStatus.INACTIVE] | None = None
    default_model: str | None = Field(None, min_length=1, max_length=200)
    models: list[ModelSpec] | None = Field(None, max_length=MAX_MODELS)


class ProviderOut(ApiModel):
    """`apiKey` is the masked key (`sk-…abcd`) or null; the key itself is never returned.
    `providerType` and `type` are the same value (`type` is the older name)."""

    id: str
    name: str
    provider_type: ProviderType
    type: ProviderType
    base_url: str | None
    api_key: str | None
    priority: int
    status: ProviderStatus
    default_model: str | None
    models: list[ModelSpec]
    last_tested_at: Timestamp | None
    last_latency_ms: float | None
    last_error: str | None
    created_at: Timestamp
    updated_at: Timestamp


class ProbeErrorOut(ApiModel):
    code: str
    message: str
    status: int | None = None


class ProviderTestOut(ApiModel):
    """The result of a real minimal call: latency of the whole probe, models the server listed."""

    ok: bool
    latency_ms: float
    models: list[str]
    model: str | None
    reply: str | None
    error: ProbeErrorOut | None
    status: ProviderStatus


class CatalogEntry(ModelSpec):
    """`ref` is what callers pass as the model reference (`<provider name>/<model id>`)."""

    ref: str
    provider: str
    provider_id: str | None
    provider_type: ProviderType
    provider_status: ProviderStatus
