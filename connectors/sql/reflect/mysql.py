"""MySQL's and MariaDB's path: information_schema, read in bulk, five queries per schema.

How names map. In MySQL a "database" and a "schema" are the same thing, so the server has one
level fewer than OpenMetadata's service > database > schema > table. syncer fills the missing
level the way the `sql` source does for every server: the database is the URL's database (or
`database_name` when it is set) and each MySQL database the filters keep is a schema, so a table
is `service.<url database>.<mysql database>.<table>`, e.g. `shop.app.sales.orders`.

OpenMetadata's own MySQL connector names that middle level `default`. We keep the source's
rule because it is the one every dialect follows and the one a user reads in the URL; set
`database_name: default` in the config to get FQNs that match entities OpenMetadata's own
ingestion already created. Note that the middle level is only a name: which MySQL databases are
read is decided by `include`/`exclude.schemas`, not by the URL, whose database is only where the
connection starts.

Permissions. information_schema silently hides what the user may not see, so an unreadable
database would look empty, and its tables deleted. `tables` therefore asks the server first
(`SHOW CREATE DATABASE`, which, unlike `SHOW TABLES FROM`, fails even for a user with the global
SHOW DATABASES privilege when they hold no privilege in that database); the source turns that
into a record error, and the engine skips deletions for the run. A user without the global
SHOW DATABASES privilege does not even see such a database listed: MySQL makes that case
indistinguishable from a dropped database, and only the engine's fail-safe share guards it.
Grant `SHOW DATABASES` (or read access on `*.*`) to a metadata reader.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from connectors.sql.reflect.model import NameFilter, RawColumn, RawForeignKey, RawTable, TableKind
from syncer.errors import SourceError

# Every statement of a connection is stopped after this long, so a locked or overloaded catalog
# fails one schema instead of hanging the run.
STATEMENT_TIMEOUT_SECONDS = 60
# Databases that describe the server, not data.
SYSTEM_SCHEMAS = ("information_schema", "mysql", "performance_schema", "sys")
# TABLE_TYPE values read; MariaDB's SEQUENCE objects and temporary tables are not tables.
_KINDS: dict[str, TableKind] = {
    "BASE TABLE": "table",
    "SYSTEM VERSIONED": "table",  # MariaDB's temporal tables
    "VIEW": "view",
}
# MySQL's "access denied" error codes: to a database, to a table, to a column.
_ACCESS_DENIED = frozenset({1044, 1142, 1143})
# MariaDB stores JSON as LONGTEXT with this check; the declared type is more useful.
_JSON_CHECK = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)

_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE, TABLE_COMMENT FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME
"""
_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT,
       ORDINAL_POSITION
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION
"""
# A PRIMARY KEY is always named PRIMARY in MySQL: constraints are told apart by their table.
_KEYS = """
SELECT c.TABLE_NAME, c.CONSTRAINT_NAME, c.CONSTRAINT_TYPE, k.COLUMN_NAME,
       k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.TABLE_CONSTRAINTS c
JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = c.CONSTRAINT_NAME
 AND k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = %s AND c.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY c.TABLE_NAME, c.CONSTRAINT_TYPE, c.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""
_VIEWS = """
SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s
"""
_JSON_COLUMNS = """
SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = %s AND CHECK_CLAUSE LIKE 'json_valid(%%'
"""


class MySQLReflector:
    """Reads a MySQL or MariaDB server's catalog, a schema (MySQL database) at a time."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        event.listen(engine, "connect", _set_statement_timeout)

    def schemas(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME"
            ).all()
        return [str(r[0]) for r in rows if str(r[0]).lower() not in SYSTEM_SCHEMAS]

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        with self.engine.connect() as conn:
            _check_readable(conn, schema)
            tables: dict[str, RawTable] = {}
            for name, type_, comment in _rows(conn, _TABLES, schema):
                kind = _KINDS.get(type_)
                if kind is not None and keep(name):
                    tables[name] = RawTable(name=name, kind=kind, comment=comment or None)
            if not tables:
                return []
            _add_columns(conn, schema, tables)
            _add_keys(conn, schema, tables)
            for name, definition in _rows(conn, _VIEWS, schema):
                if name in tables:
                    # Empty when the user lacks SHOW VIEW: the view syncs, without lineage.
                    tables[name].definition = definition or None
            if _is_mariadb(conn):
                _add_json_types(conn, schema, tables)
        for table in tables.values():
            _check_view(table)
        return [tables[n] for n in sorted(tables)]

    def close(self) -> None:
        event.remove(self.engine, "connect", _set_statement_timeout)
        self.engine.dispose()


def _set_statement_timeout(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SELECT VERSION()")
        version = str(cursor.fetchone()[0])
        if "mariadb" in version.lower():
            cursor.execute(f"SET SESSION max_statement_time = {STATEMENT_TIMEOUT_SECONDS}")
        else:  # MySQL 5.7.8+: milliseconds, and for SELECT statements only, all we run
            cursor.execute(f"SET SESSION max_execution_time = {STATEMENT_TIMEOUT_SECONDS * 1000}")
    finally:
        cursor.close()


def _is_mariadb(conn: sa.Connection) -> bool:
    # SQLAlchemy's mysql dialect learns which server it talks to when it first connects.
    return bool(getattr(conn.dialect, "is_mariadb", False))


def _rows(conn: sa.Connection, sql: str, schema: str) -> list[Any]:
    return list(conn.exec_driver_sql(sql, (schema,)).all())


def _check_readable(conn: sa.Connection, schema: str) -> None:
    """Fail when the user holds no privilege in `schema`: information_schema would show it as
    empty, and its tables would be taken for dropped."""
    quoted = "`" + schema.replace("`", "``") + "`"
    try:
        conn.exec_driver_sql(f"SHOW CREATE DATABASE {quoted}").all()
    except DBAPIError as err:
        code = err.orig.args[0] if err.orig is not None and err.orig.args else None
        if code not in _ACCESS_DENIED:
            raise
        user = conn.exec_driver_sql("SELECT CURRENT_USER()").scalar()
        raise SourceError(
            f"user {user} may not read database {schema}; grant it SELECT, SHOW VIEW ON"
            f" {quoted}.*, or leave the database out with exclude.schemas"
        ) from None


def _add_columns(conn: sa.Connection, schema: str, tables: dict[str, RawTable]) -> None:
    for table, name, type_, nullable, default, comment, ordinal in _rows(conn, _COLUMNS, schema):
        if table in tables:
            tables[table].columns.append(
                RawColumn(
                    name=name,
                    type=type_,
                    nullable=nullable == "YES",
                    ordinal=int(ordinal),
                    # MariaDB spells a NULL default as the text NULL, and a string as 'NULL'.
                    default=None if default in (None, "NULL") else default,
                    comment=comment or None,
                )
            )


def _add_keys(conn: sa.Connection, schema: str, tables: dict[str, RawTable]) -> None:
    # (table, constraint name) → its rows, in key order.
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in _rows(conn, _KEYS, schema):
        if row[0] in tables:
            found[(row[0], row[1])].append(row)
    for (table, name), rows in found.items():
        kind = rows[0][2]
        columns = tuple(r[3] for r in rows)
        if kind == "PRIMARY KEY":
            tables[table].primary_key = columns
        elif kind == "UNIQUE":
            tables[table].unique.append(columns)
        else:
            tables[table].foreign_keys.append(
                RawForeignKey(
                    columns=columns,
                    referred_schema=rows[0][4] or schema,
                    referred_table=rows[0][5],
                    referred_columns=tuple(r[6] for r in rows),
                    name=name,
                )
            )


def _add_json_types(conn: sa.Connection, schema: str, tables: dict[str, RawTable]) -> None:
    """MariaDB's JSON is an alias of LONGTEXT plus a `json_valid` check; report it as json."""
    json_columns: set[tuple[str, str]] = set()
    for table, clause in _rows(conn, _JSON_COLUMNS, schema):
        if table in tables and (found := _JSON_CHECK.fullmatch(clause.strip())):
            json_columns.add((table, found.group(1).replace("``", "`")))
    for table, column in json_columns:
        raw = tables[table]
        raw.columns = [
            _with_type(c, "json") if c.name == column and c.type == "longtext" else c
            for c in raw.columns
        ]


def _with_type(column: RawColumn, type_: str) -> RawColumn:
    return RawColumn(
        name=column.name,
        type=type_,
        nullable=column.nullable,
        ordinal=column.ordinal,
        default=column.default,
        comment=column.comment,
    )


def _check_view(table: RawTable) -> None:
    """A view over a dropped table has no columns; MySQL puts its complaint in the comment,
    MariaDB says nothing."""
    if table.kind != "view":
        return
    comment, table.comment = table.comment, None  # views have no comments: it says "VIEW"
    if not table.columns:
        table.error = (
            comment
            if comment and comment != "VIEW"
            else "the view has no readable columns: it may use a dropped table or column, or"
            " its definer may lack the rights to read them"
        )
