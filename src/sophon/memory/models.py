"""Tables of the memory domain: entries (with every earlier state), the entity graph derived from
them, daily logs and per-agent memory settings. The full-text index lives beside the entries
table (see `fts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from sophon.memory.entries import fts
from sophon.platform.clock import utcnow
from sophon.platform.db import Base, id_column
from sophon.platform.tenancy import TenantScoped


class MemoryEntry(Base, TenantScoped):
    """One long-term memory. `num` is an integer key only because the SQLite full-text index
    needs a stable integer rowid; `id` (`mem_…`) is the entry's identity everywhere else."""

    __tablename__ = "memory_entries"
    __table_args__ = (
        Index("ix_memory_entries_owner", "tenant_id", "scope", "user_id", "id"),
        Index("ix_memory_entries_agent", "tenant_id", "agent_id", "id"),
        Index("ix_memory_entries_graph_method", "graph_method"),
    )

    num: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    content: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(String(10))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    source_type: Mapped[str] = mapped_column(String(20), default="manual")
    source_session_id: Mapped[str | None] = mapped_column(String(40))
    source_message_id: Mapped[str | None] = mapped_column(String(40))
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_accessed_at: Mapped[datetime | None]
    # who read its entities: `rules` (the deterministic extractor), `pending` (waiting for the
    # model's reading) or `model`
    graph_method: Mapped[str] = mapped_column(String(10), default="rules", server_default="rules")


class MemoryEntryVersion(Base, TenantScoped):
    """A saved state of an entry: written on create, every change and delete, so a poisoned
    entry can be traced (who, when, from what) and put back. Only forgetting removes these."""

    __tablename__ = "memory_entry_versions"
    __table_args__ = (Index("ix_memory_entry_versions_entry", "entry_id", "version"),)

    id: Mapped[str] = id_column()
    entry_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(10))  # create | update | delete | restore
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryEntity(Base, TenantScoped):
    __tablename__ = "memory_entities"
    __table_args__ = (
        Index("uq_memory_entities_name", "tenant_id", "type", "name_key", unique=True),
        Index("ix_memory_entities_key", "tenant_id", "name_key"),
    )

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryEntityLink(Base, TenantScoped):
    """An entry mentions an entity."""

    __tablename__ = "memory_entity_links"
    __table_args__ = (Index("ix_memory_entity_links_entity", "entity_id"),)

    entry_id: Mapped[str] = mapped_column(
        ForeignKey("memory_entries.id", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[str] = mapped_column(
        ForeignKey("memory_entities.id", ondelete="CASCADE"), primary_key=True
    )


class MemoryRelation(Base, TenantScoped):
    """`subject predicate object`, true from `valid_from` until `valid_to` (open: still true).
    A contradicting fact closes the old row instead of deleting it."""

    __tablename__ = "memory_relations"
    __table_args__ = (
        Index("ix_memory_relations_subject", "tenant_id", "subject_id", "predicate"),
        Index("ix_memory_relations_object", "object_id"),
        Index("ix_memory_relations_source", "source_entry_id"),
    )

    id: Mapped[str] = id_column()
    subject_id: Mapped[str] = mapped_column(ForeignKey("memory_entities.id", ondelete="CASCADE"))
    predicate: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(ForeignKey("memory_entities.id", ondelete="CASCADE"))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    source_entry_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryDailyLog(Base, TenantScoped):
    """What one agent did on one UTC day for one user (`user_key` empty: work for nobody in
    particular, e.g. heartbeats)."""

    __tablename__ = "memory_daily_logs"
    __table_args__ = (
        Index("uq_memory_daily_logs_day", "tenant_id", "agent_id", "user_key", "day", unique=True),
    )

    id: Mapped[str] = id_column()
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    user_key: Mapped[str] = mapped_column(String(40), default="")
    day: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text, default="")
    lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    method: Mapped[str] = mapped_column(String(10), default="digest")
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryAgentSettings(Base, TenantScoped):
    """Per-agent switches; an agent without a row uses the defaults."""

    __tablename__ = "memory_agent_settings"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    extraction_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemorySessionLearning(Base, TenantScoped):
    """How far a session's messages have been learned from (`learning.window`): the id of the
    last message a batch read; the next batch reads the messages after it."""

    __tablename__ = "memory_session_learning"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    learned_through: Mapped[str] = mapped_column(String(40))
    learned_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryEmbedding(Base, TenantScoped):
    """An entry's vector (unit length, float32) from `model`, for the text whose SHA-256 is
    `content_sha` (a changed entry is embedded again)."""

    __tablename__ = "memory_embeddings"

    entry_id: Mapped[str] = mapped_column(
        ForeignKey("memory_entries.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200))
    dims: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    content_sha: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (for multi-row inserts)."""
    return cast(Table, model.__table__)


fts.attach(table_of(MemoryEntry))
