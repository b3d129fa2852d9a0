"""The full-text index of document chunks: the same machinery as memory's (`memory.entries.fts`:
an external-content FTS5 table with triggers on SQLite, a GIN index over `to_tsvector` on
PostgreSQL), built for the chunks table. Object names start with `document_fts`."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

from sophon.memory.entries import fts as memory_fts

PREFIX = "document_fts"
VEC_PREFIX = "document_vec"  # the sqlite-vec indexes of chunk vectors (`search`, `pipeline`)
SQLITE_DDL, POSTGRESQL_DDL = memory_fts.index_ddl(PREFIX, "document_chunks", "num", "content")
fts_table = Table(PREFIX, MetaData(), Column("rowid", Integer), Column("content", Text))


def attach(table: Table) -> None:
    memory_fts.attach(table, SQLITE_DDL, POSTGRESQL_DDL)
