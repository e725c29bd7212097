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

Paging. A schema's tables (names, kinds, comments) are listed first; their columns, keys, view
definitions and MariaDB JSON checks are then read for `page_size` tables at a time, and the
tables yielded page by page, so a schema of any size is read with bounded memory.

Permissions. information_schema silently hides what the user may not see, so an unreadable
database would look empty, and its tables deleted. `tables` therefore asks the server first
(`SHOW CREATE DATABASE`, which, unlike `SHOW TABLES FROM`, fails even for a user with the global
SHOW DATABASES privilege when they hold no privilege in that database); the source turns that
into a record error, and the engine skips deletions for the run. A user without the global
SHOW DATABASES privilege does not even see such a database listed: MySQL makes that case
indistinguishable from a dropped database. Before the engine deletes one, the source looks it
up (`lookup`), and for such a user answers that it cannot tell, naming the GRANT that would let
it; the engine then keeps it unless deletions are allowed (`--allow-deletions`). Grant `SHOW
DATABASES` (or read access on `*.*`) to a metadata reader.

Query log. `query_log` reads `performance_schema.events_statements_history_long`, the server's
ring buffer of its last statements (10,000 by default), with their text, literals included, and
the database each ran in. The source redacts them before anything is kept. A statement longer
than `performance_schema_max_sql_text_length` (1024) is truncated there and gives no lineage.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from syncer.connectors.sql.reflect.model import (
    CheckLine,
    LoggedStatement,
    Lookup,
    NameFilter,
    QueryLogUnavailable,
    RawColumn,
    RawForeignKey,
    RawTable,
    TableKind,
    reflection_order,
)
from syncer.connectors.sql.reflect.mysql_grants import (
    Grants,
    fetch,
    grants_of,
    privilege_checks,
    readable,
)
from syncer.errors import SourceError
from syncer.text import first_line

# Databases that describe the server, not data.
SYSTEM_SCHEMAS = ("information_schema", "mysql", "performance_schema", "sys")
# TABLE_TYPE values read; MariaDB's SEQUENCE objects and temporary tables are not tables.
_KINDS: dict[str, TableKind] = {
    "BASE TABLE": "table",
    "SYSTEM VERSIONED": "table",  # MariaDB's temporal tables
    "VIEW": "view",
}
# MariaDB stores JSON as LONGTEXT with this check (its JSON type is an alias that adds it); the
# declared type is more useful. A check written by hand may also let NULL through.
_JSON_CHECK = re.compile(
    r"json_valid\(`((?:[^`]|``)+)`\)(?:\s+or\s+`\1`\s+is\s+null)?", re.IGNORECASE
)

_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE, TABLE_COMMENT FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME
"""
_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLUMN_COMMENT,
       ORDINAL_POSITION
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN %s
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""
# A PRIMARY KEY is always named PRIMARY in MySQL (no other key may be), and only a foreign key
# refers to a table: KEY_COLUMN_USAGE alone tells the three kinds apart. Joined to
# TABLE_CONSTRAINTS, as it was before, MariaDB took 14 s for 3,000 tables instead of 0.4 s.
# Constraints are told apart by their table.
_KEYS = """
SELECT TABLE_NAME, CONSTRAINT_NAME,
       CASE WHEN CONSTRAINT_NAME = 'PRIMARY' THEN 'PRIMARY KEY'
            WHEN REFERENCED_TABLE_NAME IS NOT NULL THEN 'FOREIGN KEY'
            ELSE 'UNIQUE' END AS CONSTRAINT_TYPE,
       COLUMN_NAME, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN %s
ORDER BY TABLE_NAME, CONSTRAINT_TYPE, CONSTRAINT_NAME, ORDINAL_POSITION
"""
_VIEWS = """
SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS
WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN %s
"""
_JSON_COLUMNS = """
SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME IN %s AND CHECK_CLAUSE LIKE 'json_valid(%%'
"""
# Point lookups before a deletion; names are compared exactly in Python, since
# information_schema may compare them without regard to case.
_LOOKUP_SCHEMA = "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s"
_LOOKUP_TABLE = """
SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s
"""
# Statements the query log keeps for lineage: the rest are not parsed.
_QUERY_LOG_KEYWORDS = re.compile(r"\b(insert|create|update|replace)\b", re.IGNORECASE)
# Needed for a statement to reach the history: a statement is only recorded there when it is
# also recorded as a thread's current statement.
_CONSUMERS = (
    "global_instrumentation",
    "thread_instrumentation",
    "events_statements_current",
    "events_statements_history_long",
)
_CONSUMERS_SQL = "SELECT NAME, ENABLED FROM performance_schema.setup_consumers WHERE NAME IN %s"
_QUERY_LOG_SQL = """
SELECT CURRENT_SCHEMA, DIGEST, SQL_TEXT FROM performance_schema.events_statements_history_long
WHERE SQL_TEXT IS NOT NULL AND ERRORS = 0
  AND (CURRENT_SCHEMA IS NULL OR CURRENT_SCHEMA NOT IN %s)
"""


def _unavailable(problem: str, user: str = "<user>") -> QueryLogUnavailable:
    return QueryLogUnavailable(
        "performance_schema's statement history",
        problem,
        "set performance_schema=ON under [mysqld] in my.cnf, restart the server, run UPDATE"
        " performance_schema.setup_consumers SET ENABLED='YES' WHERE NAME LIKE"
        " 'events_statements_history%' OR NAME = 'events_statements_current' (or, to keep it"
        " across restarts, also set performance-schema-consumer-events-statements-current=ON and"
        " performance-schema-consumer-events-statements-history-long=ON under [mysqld]), and"
        f" GRANT SELECT ON performance_schema.* TO {user}",
    )


class MySQLReflector:
    """Reads a MySQL or MariaDB server's catalog, a schema (MySQL database) at a time."""

    def __init__(
        self, engine: sa.Engine, statement_timeout_seconds: float = 60.0, page_size: int = 5000
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # Every statement of a connection is stopped after this long, so a locked or
        # overloaded catalog fails one schema instead of hanging the run.
        self.statement_timeout_seconds = statement_timeout_seconds
        self.page_size = max(1, page_size)
        event.listen(engine, "connect", self._set_statement_timeout)
        self._grants: Grants | None = None  # read on the first lookup that misses

    def schemas(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME"
            ).all()
        return [str(r[0]) for r in rows if str(r[0]).lower() not in SYSTEM_SCHEMAS]

    def tables(self, schema: str, keep: NameFilter) -> Iterator[RawTable]:
        """The kept tables and views of `schema`, page by page, in `reflection_order`."""
        with self.engine.connect() as conn:
            _checkreadable(conn, schema)
            # (name, kind, comment) of every kept relation: all that is held for the schema.
            listed: list[tuple[str, TableKind, str | None]] = []
            for name, type_, comment in fetch(conn, _TABLES, schema):
                kind = _KINDS.get(type_)
                if kind is not None and keep(name):
                    listed.append((name, kind, comment or None))
            listed.sort(key=lambda r: reflection_order(RawTable(name=r[0], kind=r[1])))
            mariadb = _is_mariadb(conn)
            for start in range(0, len(listed), self.page_size):
                page = {
                    name: RawTable(name=name, kind=kind, comment=comment)
                    for name, kind, comment in listed[start : start + self.page_size]
                }
                names = tuple(page)
                _add_columns(conn, schema, names, page)
                _add_keys(conn, schema, names, page)
                for name, definition in fetch(conn, _VIEWS, schema, names):
                    if name in page:
                        # Empty when the user lacks SHOW VIEW: the view syncs, without lineage.
                        page[name].definition = definition or None
                if mariadb:
                    _add_json_types(conn, schema, names, page)
                for table in page.values():
                    _check_view(table)
                    yield table

    def privilege_checks(self, schemas: list[str]) -> list[CheckLine]:
        """SHOW DATABASES, some privilege in each kept database, and SHOW VIEW on them."""
        with self.engine.connect() as conn:
            return privilege_checks(conn, self._privileges(conn), schemas)

    def query_log(self) -> list[LoggedStatement]:
        """The statements in performance_schema's history that may write a table, one per
        (database, digest): the same statement with other literals is one entry.

        Raises `QueryLogUnavailable`, saying how to enable it, when performance_schema is off,
        the history is not kept, or the user may not read it.
        """
        user = "<user>"
        try:
            with self.engine.connect() as conn:
                current = str(conn.exec_driver_sql("SELECT CURRENT_USER()").scalar())
                name, _, host = current.rpartition("@")
                user = f"'{name}'@'{host}'"
                if not int(conn.exec_driver_sql("SELECT @@performance_schema").scalar() or 0):
                    raise _unavailable("performance_schema is OFF", user)
                enabled = {
                    str(n): str(e).upper() == "YES"
                    for n, e in fetch(conn, _CONSUMERS_SQL, _CONSUMERS)
                }
                off = [c for c in _CONSUMERS if not enabled.get(c)]
                if off:
                    raise _unavailable(f"consumer {', '.join(off)} is disabled", user)
                rows = fetch(conn, _QUERY_LOG_SQL, SYSTEM_SCHEMAS)
        except DBAPIError as err:
            raise _unavailable(first_line(err.orig or err), user) from err
        # (database, digest) → [text, calls]; the smallest text, so each run keeps the same one.
        found: dict[tuple[str | None, str], list[Any]] = {}
        for schema, digest, text in rows:
            text = str(text)
            if not _QUERY_LOG_KEYWORDS.search(text):
                continue
            key = (schema, str(digest or hashlib.sha256(text.encode()).hexdigest()))
            entry = found.setdefault(key, [text, 0])
            entry[0], entry[1] = min(entry[0], text), entry[1] + 1
        return [
            LoggedStatement(
                int(hashlib.sha256(f"{s}.{d}".encode()).hexdigest()[:15], 16),
                text,
                calls,
                None if s is None else str(s),
            )
            for (s, d), (text, calls) in sorted(
                found.items(), key=lambda i: (i[0][0] or "", i[0][1])
            )
        ]

    def lookup(self, schema: str, table: str | None = None) -> Lookup:
        """A database (a schema here) by name, or a table or view of it.

        information_schema shows only what the user holds a privilege on, so a miss is certain
        only when the user sees every database (SHOW DATABASES, or SELECT on *.*) or, for a
        table, every table of its database (a privilege on the whole database, or SELECT on
        *.*); otherwise the lookup says what is hidden and which GRANT would tell.
        """
        if schema.lower() in SYSTEM_SCHEMAS:
            return Lookup(False)
        with self.engine.connect() as conn:
            if table is None:
                if schema in {str(name) for (name,) in fetch(conn, _LOOKUP_SCHEMA, schema)}:
                    return Lookup(True)
                grants = self._privileges(conn)
                if grants.sees_every_database:
                    return Lookup(False)
                return Lookup(
                    False,
                    hidden=f"user {grants.grantee} lacks SHOW DATABASES, so a database whose"
                    " access was revoked looks dropped",
                    grant=f"GRANT SHOW DATABASES ON *.* TO {grants.grantee}",
                )
            rows = fetch(conn, _LOOKUP_TABLE, schema, table)
            kinds = [_KINDS.get(str(type_)) for name, type_ in rows if str(name) == table]
            if kinds and kinds[0] is not None:
                return Lookup(True, kinds[0])
            grants = self._privileges(conn)
            if grants.sees_every_table_of(schema):
                return Lookup(False)
            quoted = "`" + schema.replace("`", "``") + "`"
            return Lookup(
                False,
                hidden=f"user {grants.grantee} holds privileges on single tables of {schema}"
                " only, so a table whose access was revoked looks dropped",
                grant=f"GRANT SELECT, SHOW VIEW ON {quoted}.* TO {grants.grantee}",
            )

    def _privileges(self, conn: sa.Connection) -> Grants:
        if self._grants is None:
            self._grants = grants_of(conn)
        return self._grants

    def close(self) -> None:
        event.remove(self.engine, "connect", self._set_statement_timeout)
        self.engine.dispose()

    def _set_statement_timeout(self, dbapi_conn: Any, _record: Any) -> None:
        seconds = self.statement_timeout_seconds
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SELECT VERSION()")
            version = str(cursor.fetchone()[0])
            if "mariadb" in version.lower():  # seconds, with a fraction
                cursor.execute(f"SET SESSION max_statement_time = {float(seconds):.3f}")
            else:  # MySQL 5.7.8+: milliseconds, and for SELECT statements only, all we run
                cursor.execute(f"SET SESSION max_execution_time = {round(seconds * 1000)}")
        finally:
            cursor.close()


def _is_mariadb(conn: sa.Connection) -> bool:
    # SQLAlchemy's mysql dialect learns which server it talks to when it first connects.
    return bool(getattr(conn.dialect, "is_mariadb", False))


def _checkreadable(conn: sa.Connection, schema: str) -> None:
    """Fail when the user holds no privilege in `schema`: information_schema would show it as
    empty, and its tables would be taken for dropped."""
    quoted = "`" + schema.replace("`", "``") + "`"
    if not readable(conn, schema):
        user = conn.exec_driver_sql("SELECT CURRENT_USER()").scalar()
        raise SourceError(
            f"user {user} may not read database {schema}; grant it SELECT, SHOW VIEW ON"
            f" {quoted}.*, or leave the database out with exclude.schemas"
        ) from None


def _add_columns(
    conn: sa.Connection, schema: str, names: tuple[str, ...], tables: dict[str, RawTable]
) -> None:
    rows = fetch(conn, _COLUMNS, schema, names)
    for table, name, type_, nullable, default, comment, ordinal in rows:
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


def _add_keys(
    conn: sa.Connection, schema: str, names: tuple[str, ...], tables: dict[str, RawTable]
) -> None:
    # (table, constraint name) → its rows, in key order.
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in fetch(conn, _KEYS, schema, names):
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


def _add_json_types(
    conn: sa.Connection, schema: str, names: tuple[str, ...], tables: dict[str, RawTable]
) -> None:
    """MariaDB's JSON is an alias of LONGTEXT plus a `json_valid` check; report it as json."""
    json_columns: set[tuple[str, str]] = set()
    for table, clause in fetch(conn, _JSON_COLUMNS, schema, names):
        if table in tables and (found := _JSON_CHECK.fullmatch(clause.strip())):
            # Column names are not case-sensitive in MySQL: the check may spell one otherwise.
            json_columns.add((table, found.group(1).replace("``", "`").lower()))
    for table, column in json_columns:
        raw = tables[table]
        raw.columns = [
            _with_type(c, "json") if c.name.lower() == column and c.type == "longtext" else c
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
