"""PostgreSQL's path: pg_catalog read directly, four queries per schema whatever its size.

SQLAlchemy's inspector answers most questions a table at a time; pg_catalog answers each for a
whole schema at once. Every connection is set up the same way (see `_setup`), so that what is
read does not depend on the login role's own settings:

- `search_path` is `pg_catalog` only, so `pg_get_viewdef` qualifies every table a view reads
  (an unqualified name in view SQL would be resolved against the view's schema, wrongly when
  the table is in `public`), and `format_type` qualifies user types, which we then unqualify.
- `statement_timeout` bounds every query, and transactions are read-only.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from connectors.sql.reflect.model import NameFilter, RawColumn, RawForeignKey, RawTable, TableKind

# Applied to every statement; `SqlConfig` has no field for it yet (see `PostgresReflector`).
STATEMENT_TIMEOUT_SECONDS = 60.0
# Applied to connecting when the URL does not set `connect_timeout` itself.
CONNECT_TIMEOUT_SECONDS = 10

_KINDS: dict[str, TableKind] = {
    "r": "table",
    "p": "partitioned",
    "v": "view",
    "m": "materialized_view",
    "f": "foreign",
}
# Schemas that describe the server, not data: pg_catalog, pg_toast, pg_temp_N and the like.
_SYSTEM = "(n.nspname LIKE 'pg\\_%' OR n.nspname = 'information_schema')"
# The relations of one schema that are read: partitions are part of their parent.
_RELATIONS = (
    "c.relnamespace = :schema_oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    " AND NOT c.relispartition"
)

_SCHEMAS_SQL = f"SELECT n.nspname FROM pg_namespace n WHERE NOT {_SYSTEM} ORDER BY n.nspname"

_SCHEMA_SQL = """
SELECT n.oid, has_schema_privilege(n.oid, 'USAGE'), current_user
FROM pg_namespace n WHERE n.nspname = :schema
"""

_TABLES_SQL = f"""
SELECT c.relname, c.relkind, d.description,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
FROM pg_class c
LEFT JOIN pg_description d
       ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE {_RELATIONS}
"""

# The enum a column holds (directly, or as an array's element) with its labels; the type's
# schema, to unqualify what `format_type` prints under our search_path.
_COLUMNS_SQL = f"""
WITH enums AS (
    SELECT enumtypid, string_agg(quote_literal(enumlabel), ',' ORDER BY enumsortorder) AS labels
    FROM pg_enum GROUP BY enumtypid
)
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       d.description,
       row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
       CASE WHEN bn.nspname <> 'pg_catalog' THEN quote_ident(bn.nspname) || '.' END,
       e.labels
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type b ON b.oid = CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE t.oid END
JOIN pg_namespace bn ON bn.oid = b.typnamespace
LEFT JOIN enums e ON e.enumtypid = b.oid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d
       ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE {_RELATIONS}
ORDER BY c.relname, a.attnum
"""

# Column names in key order; `conparentid = 0` leaves out the copies PostgreSQL makes of a
# foreign key for each partition of the table it refers to.
_CONSTRAINTS_SQL = f"""
SELECT c.relname, con.contype, con.conname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.i),
       rn.nspname, rc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.i)
FROM pg_class c
JOIN pg_constraint con ON con.conrelid = c.oid
     AND con.contype IN ('p', 'u', 'f') AND con.conparentid = 0
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE {_RELATIONS}
ORDER BY c.relname, con.contype, con.conname
"""


class SchemaNotReadable(Exception):
    """The login role may not use a schema: its tables cannot be read, nor taken for deleted."""

    def __init__(self, schema: str, user: str) -> None:
        self.schema = schema
        self.user = user
        super().__init__(
            f"permission denied for schema {schema}: role {user} lacks USAGE on it;"
            f" GRANT USAGE ON SCHEMA to {user}, or exclude it with exclude.schemas"
        )


class PostgresReflector:
    """Reads one PostgreSQL database's catalog, four queries per schema.

    `schemas()` lists every non-system schema, readable or not: a schema whose USAGE was
    revoked must stay listed so that `tables()` raises for it, the source reports a record
    error, and the engine skips deletions instead of deleting the schema and its tables.
    """

    dialect = "postgresql"

    def __init__(self, engine: sa.Engine, statement_timeout_seconds: float | None = None) -> None:
        self.engine = engine
        timeout = STATEMENT_TIMEOUT_SECONDS
        if statement_timeout_seconds is not None:
            timeout = statement_timeout_seconds
        self.statement_timeout_ms = max(0, round(timeout * 1000))  # 0 turns it off
        sa.event.listen(engine, "do_connect", _connect_timeout)
        sa.event.listen(engine, "connect", self._setup)

    def schemas(self) -> list[str]:
        return [str(name) for (name,) in self._query(_SCHEMAS_SQL)]

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        try:
            return self._tables(schema, keep)
        except sa.exc.DBAPIError as err:
            # The driver's own words ("canceling statement due to statement timeout"),
            # without SQLAlchemy's wrapping, which the source would show as its first line.
            if isinstance(err.orig, Exception):
                raise err.orig from err
            raise

    def _tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        with self.engine.connect() as conn:
            found = conn.execute(sa.text(_SCHEMA_SQL), {"schema": schema}).first()
            if found is None:
                raise LookupError(f"schema {schema} does not exist (any more)")
            oid, usable, user = found
            if not usable:
                raise SchemaNotReadable(schema, user)
            where = {"schema_oid": oid}
            tables: dict[str, RawTable] = {}
            for name, kind, comment, definition in conn.execute(sa.text(_TABLES_SQL), where):
                if keep(name):
                    tables[name] = RawTable(
                        name=name, kind=_KINDS[kind], comment=comment, definition=definition
                    )
            if tables:
                _add_columns(tables, conn.execute(sa.text(_COLUMNS_SQL), where))
                _add_constraints(tables, conn.execute(sa.text(_CONSTRAINTS_SQL), where))
            conn.rollback()
        return [tables[n] for n in sorted(tables)]

    def close(self) -> None:
        self.engine.dispose()

    def _query(self, sql: str) -> list[Any]:
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.text(sql)))
            conn.rollback()
            return rows

    def _setup(self, dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            # set_config, not SET: SET takes no bound parameters.
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, false),"
                " set_config('search_path', 'pg_catalog', false),"
                " set_config('default_transaction_read_only', 'on', false)",
                (str(self.statement_timeout_ms),),
            )
        finally:
            cursor.close()
        dbapi_conn.commit()


def _connect_timeout(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)


def _add_columns(tables: dict[str, RawTable], rows: Any) -> None:
    for table, name, type_, nullable, default, comment, ordinal, prefix, labels in rows:
        if table in tables:
            tables[table].columns.append(
                RawColumn(
                    name=name,
                    type=column_type(type_, prefix, labels),
                    nullable=nullable,
                    ordinal=ordinal,
                    default=default,
                    comment=comment,
                )
            )


def column_type(formatted: str, prefix: str | None, labels: str | None) -> str:
    """What `format_type` printed, without the type's schema; an enum as `enum name('a','b')`.

    `prefix` is the quoted schema and dot that precede a user type's name; `labels` the enum's
    labels, quoted and comma-separated, when the type (or an array's element) is an enum.
    """
    if prefix and formatted.startswith(prefix):
        formatted = formatted[len(prefix) :]
    if labels is None:
        return formatted
    name, brackets, _ = formatted.partition("[")
    suffix = brackets + formatted[len(name) + len(brackets) :] if brackets else ""
    return f"enum {name}({labels}){suffix}"


def _add_constraints(tables: dict[str, RawTable], rows: Any) -> None:
    uniques: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for table, kind, name, columns, referred_schema, referred, referred_columns in rows:
        if table not in tables:
            continue
        if kind == "p":
            tables[table].primary_key = tuple(columns)
        elif kind == "u":
            uniques[table].append(tuple(columns))
        else:
            tables[table].foreign_keys.append(
                RawForeignKey(
                    columns=tuple(columns),
                    referred_schema=referred_schema,
                    referred_table=referred,
                    referred_columns=tuple(referred_columns),
                    name=name,
                )
            )
    for table, constraints in uniques.items():
        tables[table].unique = constraints
