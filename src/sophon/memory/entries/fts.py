"""The full-text index of memory entries: an external-content FTS5 table kept in step by
triggers on SQLite, an expression GIN index over `to_tsvector` on PostgreSQL. The same DDL runs
from `create_all` (a fresh database) and from migration 0006. Object names all start with
`memory_fts` (schema comparisons leave them out: SQLite lists FTS5 shadow tables as tables)."""

from __future__ import annotations

import re

from sqlalchemy import DDL, Column, Integer, MetaData, Table, Text, event

PREFIX = "memory_fts"
TS_CONFIG = "english"

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE memory_fts USING fts5(content, content='memory_entries', "
    "content_rowid='num', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER memory_fts_ai AFTER INSERT ON memory_entries BEGIN "
    "INSERT INTO memory_fts(rowid, content) VALUES (new.num, new.content); END",
    "CREATE TRIGGER memory_fts_ad AFTER DELETE ON memory_entries BEGIN "
    "INSERT INTO memory_fts(memory_fts, rowid, content) VALUES ('delete', old.num, old.content); "
    "END",
    "CREATE TRIGGER memory_fts_au AFTER UPDATE OF content ON memory_entries BEGIN "
    "INSERT INTO memory_fts(memory_fts, rowid, content) VALUES ('delete', old.num, old.content); "
    "INSERT INTO memory_fts(rowid, content) VALUES (new.num, new.content); END",
]
POSTGRESQL_DDL = [  # fastupdate off: bulk loads must not pile up in the GIN pending list
    f"CREATE INDEX memory_fts_gin ON memory_entries USING gin "
    f"(to_tsvector('{TS_CONFIG}', content)) WITH (fastupdate = off)",
]

# the FTS5 table as SQLAlchemy sees it in queries (never created through metadata)
fts_table = Table("memory_fts", MetaData(), Column("rowid", Integer), Column("content", Text))


def index_ddl(name: str, table: str, rowid: str, column: str) -> tuple[list[str], list[str]]:
    """The same index for another table (SQLite DDL, PostgreSQL DDL): document chunks use it.
    The names come from code, never from input."""
    sqlite = [
        f"CREATE VIRTUAL TABLE {name} USING fts5({column}, content='{table}', "
        f"content_rowid='{rowid}', tokenize='porter unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {name}_ai AFTER INSERT ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {name}(rowid, {column}) VALUES (new.{rowid}, new.{column}); END",
        f"CREATE TRIGGER {name}_ad AFTER DELETE ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {name}({name}, rowid, {column}) VALUES ('delete', old.{rowid}, "
        f"old.{column}); END",
    ]
    postgresql = [
        f"CREATE INDEX {name}_gin ON {table} USING gin "
        f"(to_tsvector('{TS_CONFIG}', {column})) WITH (fastupdate = off)",
    ]
    return sqlite, postgresql


def attach(
    table: Table, sqlite: list[str] | None = None, postgresql: list[str] | None = None
) -> None:
    """Creates the index with its table (called once, by `models`); memory's by default."""
    for statement in SQLITE_DDL if sqlite is None else sqlite:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="sqlite"))  # type: ignore[no-untyped-call]
    for statement in POSTGRESQL_DDL if postgresql is None else postgresql:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]


_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
MAX_TERMS = 16


def terms(query: str) -> list[str]:
    """The words of a query worth matching: lower-cased, stopwords dropped unless nothing else
    is left, at most `MAX_TERMS` (a pasted paragraph must not become a 500-way OR)."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(kept))[:MAX_TERMS]


def fts5_match(words: list[str]) -> str:
    """An FTS5 query matching any of the words (quoted, so no operator injection); bm25 ranks
    entries with more and rarer words first."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def tsquery(words: list[str]) -> str:
    """A `to_tsquery` text ORing the words; each is alphanumeric (from `terms`), so no operator
    can be injected."""
    return " | ".join(w for w in words if w.isalnum())
