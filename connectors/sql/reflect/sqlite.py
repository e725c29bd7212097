"""SQLite's fast path: three pragma joins over sqlite_master read a whole schema at once."""

# SQLAlchemy's inspector asks one PRAGMA per table; on a file with 20,000 tables its bulk key
# methods took 45 s each, while these joins read every column and key in about a second.

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from syncer.connectors.sql.reflect.model import (
    ColumnRows,
    Lookup,
    NameFilter,
    RawColumn,
    RawForeignKey,
    RawTable,
    RowGroups,
)
from syncer.text import first_line

# Tables and views the user made; SQLite's own tables (sqlite_sequence, sqlite_stat1) start
# with "sqlite_".
_OBJECTS = """
    FROM {schema}.sqlite_master AS m
    WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
"""
# Tables, then views, each by name: `reflection_order`, and the order every statement below
# returns its rows in (BINARY collation orders UTF-8 as Python orders str).
_IN_ORDER = "ORDER BY m.type <> 'table', m.name"
_COLUMNS = """
    SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk
    FROM {schema}.sqlite_master AS m, pragma_table_info(m.name, :schema) AS p
    WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    ORDER BY m.type <> 'table', m.name, p.cid
"""
# A table's foreign keys and UNIQUE constraints are written in the CREATE TABLE statement that
# SQLite keeps (ALTER TABLE ADD COLUMN rewrites it), so the two statements below ask only the
# tables whose statement has the keyword: LIKE ignores ASCII case, and a false match (a column
# named unique_code) costs one pragma. On 20,000 tables this took them from 0.29 s to 0.06 s.
_FOREIGN_KEYS = """
    SELECT m.name, f.id, f."table", f."from", f."to"
    FROM {schema}.sqlite_master AS m, pragma_foreign_key_list(m.name, :schema) AS f
    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
      AND m.sql LIKE '%references%'
    ORDER BY m.name, f.id, f.seq
"""
# origin 'u' marks the indexes that back UNIQUE constraints, as opposed to CREATE INDEX ('c')
# and the primary key ('pk').
_UNIQUES = """
    SELECT m.name, il.name, ii.name
    FROM {schema}.sqlite_master AS m,
         pragma_index_list(m.name, :schema) AS il,
         pragma_index_info(il.name, :schema) AS ii
    WHERE m.type = 'table' AND m.sql LIKE '%unique%' AND il.origin = 'u'
    ORDER BY m.name, il.name, ii.seqno
"""


class SqliteReflector:
    """Reads SQLite's catalog with table-valued pragmas, one query per kind of metadata."""

    dialect = "sqlite"

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def schemas(self) -> list[str]:
        rows = self._query(
            "SELECT name FROM pragma_database_list WHERE name <> 'temp' ORDER BY seq"
        )
        return [str(r[0]) for r in rows]

    def tables(self, schema: str, keep: NameFilter) -> Iterator[RawTable]:
        """A schema's tables, then its views, each by name, one at a time: the columns and
        keys are read by three statements over the whole schema whose rows come in that same
        order, in one read transaction (one snapshot of the catalog), so only the table being
        built is held, whatever the schema's size."""
        quoted = _quote(schema)
        with self.engine.connect() as conn:
            dbapi = conn.connection
            dbapi.execute("BEGIN")
            try:
                yield from self._read(dbapi, schema, quoted, keep)
            finally:
                dbapi.execute("ROLLBACK")

    def _read(self, dbapi: Any, schema: str, quoted: str, keep: NameFilter) -> Iterator[RawTable]:
        def rows(sql: str) -> RowGroups:
            return RowGroups(dbapi.execute(sql.format(schema=quoted), {"schema": schema}))

        listing = f"SELECT m.name, m.type, m.sql {_OBJECTS} {_IN_ORDER}".format(schema=quoted)
        objects = dbapi.execute(listing).fetchall()
        # SQLite names are case-insensitive; a REFERENCES clause may spell one differently.
        spelled = {str(name).lower(): str(name) for name, _, _ in objects}
        keys, uniques = rows(_FOREIGN_KEYS), rows(_UNIQUES)
        columns: RowGroups | None
        try:
            columns = rows(_COLUMNS)
        except sqlite3.Error:  # a broken view: see below
            columns = None
        for name, kind, sql in objects:
            table = RawTable(
                name=name,
                kind="view" if kind == "view" else "table",
                definition=sql if kind == "view" else None,
            )
            if columns is not None:
                try:
                    _defer_columns(columns.take(name), table)
                except sqlite3.Error:
                    # One broken view (over a dropped table) fails the join from there on: the
                    # rest is read table by table, so that only the broken one is reported.
                    columns = None
            found_keys, found_uniques = keys.take(name), uniques.take(name)
            if not keep(name):
                continue
            if columns is None:
                self._add_columns_alone(dbapi, schema, table)
            if found_keys:
                _apply_foreign_keys(found_keys, table, schema, spelled, self._primary_key)
            if found_uniques:
                table.unique = [tuple(row[2] for row in rows) for rows in _by_index(found_uniques)]
            yield table

    def _add_columns_alone(self, dbapi: Any, schema: str, table: RawTable) -> None:
        sql = (
            'SELECT :name, cid, name, type, "notnull", dflt_value, pk'
            " FROM pragma_table_info(:name, :schema) ORDER BY cid"
        )
        try:
            _apply_columns(dbapi.execute(sql, {"name": table.name, "schema": schema}), table)
        except sqlite3.Error as err:
            table.error = first_line(err)

    def _primary_key(self, schema: str, table: str) -> tuple[str, ...]:
        """A table's primary key, for a foreign key that names no columns (rare)."""
        rows = self._query(
            "SELECT name FROM pragma_table_info(:name, :schema) WHERE pk > 0 ORDER BY pk",
            name=table,
            schema=schema,
        )
        return tuple(str(row[0]) for row in rows)

    def lookup(self, schema: str, table: str | None = None) -> Lookup:
        """An attached database (schema) by name, or a table or view of it."""
        attached = self._query(
            "SELECT 1 FROM pragma_database_list WHERE name = :schema AND name <> 'temp'",
            schema=schema,
        )
        if not attached or table is None:
            return Lookup(bool(attached))
        # sqlite_master's names compare case-sensitively with `=`, as the FQNs they became do.
        rows = self._query(
            f"SELECT m.type {_OBJECTS} AND m.name = :name".format(schema=_quote(schema)),
            name=table,
        )
        if not rows:
            return Lookup(False)
        return Lookup(True, "view" if rows[0][0] == "view" else "table")

    def close(self) -> None:
        self.engine.dispose()

    def _query(self, sql: str, **params: Any) -> list[Any]:
        """Rows as the driver returns them (tuples): on a catalog of many thousand tables,
        SQLAlchemy's row objects cost about as much as SQLite reading the rows."""
        with self.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()


def _defer_columns(rows: list[Any], table: RawTable) -> None:
    """A table's columns and primary key, left as rows until it is mapped."""
    table.column_rows = ColumnRows(tuple(rows), tuple(map(_NAME, rows)), partial(_fill, rows))


def _apply_columns(rows: Iterable[Any], table: RawTable) -> None:
    _fill(list(rows), table)


def _fill(rows: list[Any], table: RawTable) -> None:
    # Positional: on 200,000 columns, keyword arguments cost a tenth of a second.
    table.columns.extend(
        RawColumn(name, type_ or "", not notnull, cid + 1, None if dflt is None else str(dflt))
        for _, cid, name, type_, notnull, dflt, _ in rows
    )
    positions = sorted((pk, name) for _, _, name, _, _, _, pk in rows if pk)
    table.primary_key = tuple(name for _, name in positions)


_NAME = itemgetter(2)  # of a pragma_table_info row


def _apply_foreign_keys(
    rows: list[Any],
    table: RawTable,
    schema: str,
    spelled: dict[str, str],
    primary_key: Callable[[str, str], tuple[str, ...]],
) -> None:
    groups: dict[int, list[tuple[str, str, str | None]]] = defaultdict(list)
    for _, fk_id, referred, from_col, to_col in rows:
        groups[fk_id].append((referred, from_col, to_col))
    for parts in groups.values():
        referred = spelled.get(parts[0][0].lower(), parts[0][0])
        # "REFERENCES customers" without columns means the referred table's primary key.
        to_cols = tuple(p[2] for p in parts if p[2] is not None) or primary_key(schema, referred)
        table.foreign_keys.append(
            RawForeignKey(
                columns=tuple(p[1] for p in parts),
                referred_schema=schema,
                referred_table=referred,
                referred_columns=to_cols,
            )
        )


def _by_index(rows: list[Any]) -> list[list[Any]]:
    """A table's unique-index rows, one list per index, by index name."""
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row[1]].append(row)
    return [groups[name] for name in sorted(groups)]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
