"""DuckDB's path: its own catalog functions, read through the duckdb module in read-only mode."""

# duckdb-engine's inspector queries pg_catalog.pg_collation, which DuckDB 2.0 lacks, so the
# generic path cannot be used; DuckDB's duckdb_* functions answer each question in one query.

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import duckdb

from syncer.connectors.sql.reflect.model import (
    Lookup,
    NameFilter,
    RawColumn,
    RawForeignKey,
    RawTable,
)

# Schemas DuckDB creates for compatibility, not for data.
_SYSTEM_SCHEMAS = ("information_schema", "pg_catalog", "temp")
_HERE = "database_name = current_database() AND schema_name = ?"


class DuckDBReflector:
    """Reads one DuckDB file's catalog, a schema per query batch."""

    dialect = "duckdb"

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn

    @classmethod
    def open(cls, path: str) -> DuckDBReflector:
        return cls(duckdb.connect(path, read_only=True))

    def schemas(self) -> list[str]:
        rows = self._query(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
            " AND schema_name NOT IN (?, ?, ?) ORDER BY schema_name",
            *_SYSTEM_SCHEMAS,
        )
        return [str(r[0]) for r in rows]

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        tables: dict[str, RawTable] = {}
        for name, comment in self._query(
            f"SELECT table_name, comment FROM duckdb_tables() WHERE {_HERE} AND NOT temporary",
            schema,
        ):
            if keep(name):
                tables[name] = RawTable(name=name, comment=comment or None)
        for name, comment, sql in self._query(
            f"SELECT view_name, comment, sql FROM duckdb_views()"
            f" WHERE {_HERE} AND NOT internal AND NOT temporary",
            schema,
        ):
            if keep(name):
                tables[name] = RawTable(
                    name=name, kind="view", comment=comment or None, definition=sql
                )
        if tables:
            self._add_columns(schema, tables)
            self._add_constraints(schema, tables)
        return [tables[n] for n in sorted(tables)]

    def lookup(self, schema: str, table: str | None = None) -> Lookup:
        """A schema of the file by name, or a table or view of it."""
        if schema in _SYSTEM_SCHEMAS:
            return Lookup(False)
        if table is None:
            found = self._query(
                "SELECT 1 FROM duckdb_schemas() WHERE database_name = current_database()"
                " AND schema_name = ?",
                schema,
            )
            return Lookup(bool(found))
        rows = self._query(
            f"SELECT 'table' FROM duckdb_tables() WHERE {_HERE} AND table_name = ?"
            " AND NOT temporary UNION ALL"
            f" SELECT 'view' FROM duckdb_views() WHERE {_HERE} AND view_name = ?"
            " AND NOT internal AND NOT temporary",
            schema,
            table,
            schema,
            table,
        )
        if not rows:
            return Lookup(False)
        return Lookup(True, "view" if rows[0][0] == "view" else "table")

    def close(self) -> None:
        self.conn.close()

    def _query(self, sql: str, *params: Any) -> list[Any]:
        # A cursor per query: the connection object is not meant to be shared across threads.
        with self.conn.cursor() as cur:
            return cur.execute(sql, list(params)).fetchall()

    def _add_columns(self, schema: str, tables: dict[str, RawTable]) -> None:
        for table, name, type_, nullable, default, comment, index in self._query(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, comment,"
            f" column_index FROM duckdb_columns() WHERE {_HERE}"
            " ORDER BY table_name, column_index",
            schema,
        ):
            if table in tables:
                tables[table].columns.append(
                    RawColumn(
                        name=name,
                        type=type_,
                        nullable=bool(nullable),
                        ordinal=index,
                        default=default,
                        comment=comment or None,
                    )
                )

    def _add_constraints(self, schema: str, tables: dict[str, RawTable]) -> None:
        uniques: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for table, kind, columns, referred, referred_columns, text in self._query(
            "SELECT table_name, constraint_type, constraint_column_names, referenced_table,"
            f" referenced_column_names, constraint_text FROM duckdb_constraints() WHERE {_HERE}"
            " AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')"
            " ORDER BY table_name, constraint_index",
            schema,
        ):
            if table not in tables:
                continue
            if kind == "PRIMARY KEY":
                tables[table].primary_key = tuple(columns)
            elif kind == "UNIQUE":
                uniques[table].append(tuple(columns))
            else:
                tables[table].foreign_keys.append(
                    RawForeignKey(
                        columns=tuple(columns),
                        referred_schema=_referred_schema(text, referred) or schema,
                        referred_table=referred,
                        referred_columns=tuple(referred_columns),
                    )
                )
        for table, constraints in uniques.items():
            tables[table].unique = constraints


def _referred_schema(constraint_text: str, referred_table: str) -> str | None:
    """The schema in "FOREIGN KEY (x) REFERENCES sales.customers(id)", when it is spelled out."""
    table = re.escape(referred_table)
    found = re.search(rf'REFERENCES\s+"?([^".\s]+)"?\."?{table}"?\s*\(', constraint_text)
    return found.group(1) if found else None
