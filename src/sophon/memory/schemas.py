"""Wire models of the memory API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator

from sophon.platform.schemas import ApiModel, RequestModel, Timestamp

MAX_CONTENT_BYTES = 32 * 1024
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[\w.:-]+$")]
Importance = Annotated[float, Field(ge=0, le=1)]


class Category(StrEnum):
    FACT = "fact"
    PREFERENCE = "preference"
    OBSERVATION = "observation"


class Scope(StrEnum):
    USER = "user"
    AGENT = "agent"


class SourceType(StrEnum):
    CHAT = "chat"
    MANUAL = "manual"
    IMPORT = "import"
    EXTRACTION = "extraction"


class EntityType(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"
    PROJECT = "project"
    PLACE = "place"
    DATE = "date"
    CONCEPT = "concept"
    OTHER = "other"


class SourceIn(RequestModel):
    type: SourceType = SourceType.MANUAL
    session_id: str | None = Field(None, max_length=40)
    message_id: str | None = Field(None, max_length=40)


def _tags(value: list[str]) -> list[str]:
    return list(dict.fromkeys(t.lower() for t in value))


class EntryIn(RequestModel):
    """`content` is at most 32 KiB of UTF-8 (413 beyond); an `agent` scope names its agent."""

    content: str = Field(min_length=1)
    category: Category = Category.FACT
    scope: Scope = Scope.USER
    agent_id: str | None = Field(None, max_length=40)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    importance: Importance = 0.5
    source: SourceIn = Field(default_factory=SourceIn)
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must not be empty")
        return value

    _norm_tags = field_validator("tags")(_tags)


class EntryPatchIn(RequestModel):
    """Only the fields sent change; the previous state is kept as a version."""

    content: str | None = Field(None, min_length=1)
    category: Category | None = None
    tags: list[Tag] | None = Field(None, max_length=32)
    importance: Importance | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("content must not be empty")
        return value

    @field_validator("tags")
    @classmethod
    def _norm_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _tags(value)


class SourceOut(ApiModel):
    type: SourceType
    session_id: str | None
    message_id: str | None


class EntityRef(ApiModel):
    id: str
    name: str
    type: EntityType


class EntryOut(ApiModel):
    id: str
    content: str
    category: Category
    scope: Scope
    agent_id: str | None
    user_id: str | None
    tags: list[str]
    importance: float
    source: SourceOut
    entities: list[EntityRef]
    version: int
    valid_from: Timestamp
    valid_to: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    last_accessed_at: Timestamp | None


class EntryVersionOut(ApiModel):
    version: int
    change: str = Field(description="`create`, `update`, `delete` or `restore`.")
    content: str
    category: str
    tags: list[str]
    importance: float
    actor: dict[str, object]
    created_at: Timestamp


class SearchHit(ApiModel):
    entry: EntryOut
    score: float = Field(description="Higher is better; comparable within one response.")
    snippet: str = Field(
        description="The best passage, HTML-escaped, matched words inside `<mark>…</mark>`."
    )
    matched: list[str] = Field(description="`lexical` and/or `vector`: the lists that found it.")


class SearchOut(ApiModel):
    items: list[SearchHit]
    query: str
    mode: str = Field(description="`lexical` or `hybrid`.")


class ForgetAccepted(ApiModel):
    approval_id: str


class GraphNode(ApiModel):
    id: str
    name: str
    type: EntityType
    depth: int


class GraphEdge(ApiModel):
    id: str
    subject: str
    predicate: str
    object: str
    valid_from: Timestamp
    valid_to: Timestamp | None
    source_entry_id: str


class GraphOut(ApiModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class DailyLogOut(ApiModel):
    date: str
    agent_id: str
    user_id: str | None
    summary: str
    lines: list[str]
    stats: dict[str, object]
    method: str = Field(description="`model` (summarised by a model) or `digest`.")
    final: bool = Field(description="False for a day still open (built on demand).")
    built_at: Timestamp


class DailyLogsOut(ApiModel):
    items: list[DailyLogOut]


class AgentMemorySettings(ApiModel):
    agent_id: str
    extraction_enabled: bool


class AgentMemorySettingsIn(RequestModel):
    extraction_enabled: bool
