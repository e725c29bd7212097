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
from collections.abc import Iterator
from typing import Any, NamedTuple

import sqlalchemy as sa

from connectors.sql.reflect.model import (
    CheckLine,
    LoggedStatement,
    Lookup,
    NameFilter,
    QueryLogUnavailable,
    RawColumn,
    RawForeignKey,
    RawTable,
    TableKind,
)
from syncer.text import first_line

# Statements the query log keeps for lineage: the rest are not read, let alone parsed.
_QUERY_LOG_KEYWORDS = r"\m(insert|create|update|merge)\M"
_EXTENSION_SQL = """
SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'
"""
# `{schema}` is the extension's schema, quoted by the server.
_QUERY_LOG_SQL = """
SELECT s.queryid, s.query, s.calls
FROM {schema}.pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = current_database() AND s.query ~* :keywords
ORDER BY s.queryid
"""
# What pg_stat_statements shows instead of another role's statement.
_HIDDEN = "<insufficient privilege>"

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
# One page of them, by oid: the queries below read `page_size` relations at a time.
_PAGE = "c.oid = ANY(CAST(:oids AS oid[]))"

_RELATIONS_SQL = f"SELECT c.oid, c.relname, c.relkind FROM pg_class c WHERE {_RELATIONS}"

# The databases a role may try to connect to: templates and those refusing connections left out.
_DATABASES_SQL = """
SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname
"""

_SCHEMAS_SQL = f"SELECT n.nspname FROM pg_namespace n WHERE NOT {_SYSTEM} ORDER BY n.nspname"

# Point lookups before a deletion: a schema, a relation as `_RELATIONS` reads them, a database.
_LOOKUP_SCHEMA_SQL = f"SELECT 1 FROM pg_namespace n WHERE n.nspname = :schema AND NOT {_SYSTEM}"
_LOOKUP_TABLE_SQL = f"""
SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND NOT {_SYSTEM} AND c.relname = :table
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
"""
_LOOKUP_DATABASE_SQL = """
SELECT 1 FROM pg_database WHERE datname = :database AND datallowconn AND NOT datistemplate
"""

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
WHERE {_PAGE}
"""

# A column's type as `format_type` prints it, and its oid, which `_TYPES_SQL` describes.
_COLUMNS_SQL = f"""
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       d.description,
       row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
       a.atttypid
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d
       ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
WHERE {_PAGE}
ORDER BY c.relname, a.attnum
"""

# Every type the page's columns hold, and what those are made of: an array's element type
# (`typelem` of a varlena array), a domain's base type (`typbasetype`, itself maybe a domain)
# printed with the domain's type modifier, an enum's labels, a composite type's fields. Each with
# its schema when not pg_catalog, to unqualify what `format_type` prints under our search_path.
_TYPES_SQL = """
WITH RECURSIVE used(oid) AS (
    SELECT a.atttypid FROM pg_attribute a
    WHERE a.attrelid = ANY(CAST(:oids AS oid[])) AND a.attnum > 0 AND NOT a.attisdropped
  UNION
    SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END
    FROM used u JOIN pg_type t ON t.oid = u.oid
    WHERE t.typtype = 'd' OR (t.typelem <> 0 AND t.typlen = -1)
)
SELECT t.oid, t.typtype,
       CASE WHEN n.nspname <> 'pg_catalog' THEN quote_ident(n.nspname) || '.' END,
       CASE WHEN t.typtype <> 'd' AND t.typelem <> 0 AND t.typlen = -1 THEN t.typelem END,
       CASE WHEN t.typtype = 'd' THEN t.typbasetype END,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
       (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
        FROM pg_enum e WHERE e.enumtypid = t.oid),
       CASE WHEN t.typtype = 'c' THEN
           (SELECT string_agg(quote_ident(f.attname) || ' ' || format_type(f.atttypid, f.atttypmod),
                              ',' ORDER BY f.attnum)
            FROM pg_attribute f WHERE f.attrelid = t.typrelid AND f.attnum > 0
                                  AND NOT f.attisdropped) END
FROM used u JOIN pg_type t ON t.oid = u.oid JOIN pg_namespace n ON n.oid = t.typnamespace
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
WHERE {_PAGE}
ORDER BY c.relname, con.contype, con.conname
"""


def _unavailable(
    problem: str, role: str = "<role>", partial: list[LoggedStatement] | None = None
) -> QueryLogUnavailable:
    return QueryLogUnavailable(
        "pg_stat_statements",
        problem,
        "set shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, restart the"
        " server, run CREATE EXTENSION pg_stat_statements; in this database, and"
        f" GRANT pg_read_all_stats TO {role}",
        partial,
    )


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
    """Reads one PostgreSQL database's catalog: a schema's relations (names and kinds), then
    four queries per page of `page_size` of them, so memory stays bounded whatever its size.

    `schemas()` lists every non-system schema, readable or not: a schema whose USAGE was
    revoked must stay listed so that `tables()` raises for it, the source reports a record
    error, and the engine skips deletions instead of deleting the schema and its tables.
    """

    dialect = "postgresql"

    def __init__(
        self, engine: sa.Engine, statement_timeout_seconds: float = 60.0, page_size: int = 5000
    ) -> None:
        self.engine = engine
        self.statement_timeout_ms = max(0, round(statement_timeout_seconds * 1000))  # 0: off
        self.page_size = max(1, page_size)
        sa.event.listen(engine, "do_connect", _connect_timeout)
        sa.event.listen(engine, "connect", self._setup)

    def databases(self) -> list[str]:
        """Every database of the server that accepts connections, templates left out; listed
        from the catalog, whether or not the login role may connect to it."""
        return [str(name) for (name,) in self._query(_DATABASES_SQL)]

    def schemas(self) -> list[str]:
        return [str(name) for (name,) in self._query(_SCHEMAS_SQL)]

    def tables(self, schema: str, keep: NameFilter) -> Iterator[RawTable]:
        """The kept relations of `schema`, page by page, in `reflection_order`."""
        try:
            yield from self._tables(schema, keep)
        except sa.exc.DBAPIError as err:
            # The driver's own words ("canceling statement due to statement timeout"),
            # without SQLAlchemy's wrapping, which the source would show as its first line.
            if isinstance(err.orig, Exception):
                raise err.orig from err
            raise

    def _tables(self, schema: str, keep: NameFilter) -> Iterator[RawTable]:
        with self.engine.connect() as conn:
            found = conn.execute(sa.text(_SCHEMA_SQL), {"schema": schema}).first()
            if found is None:
                raise LookupError(f"schema {schema} does not exist (any more)")
            oid, usable, user = found
            if not usable:
                raise SchemaNotReadable(schema, user)
            # (kind, name, oid) of every kept relation: all that is held for the whole schema.
            relations = sorted(
                (_KINDS[kind] != "table", name, _KINDS[kind], rel_oid)
                for rel_oid, name, kind in conn.execute(
                    sa.text(_RELATIONS_SQL), {"schema_oid": oid}
                )
                if keep(name)
            )
            for start in range(0, len(relations), self.page_size):
                page = relations[start : start + self.page_size]
                yield from _page(conn, [(name, kind, o) for _, name, kind, o in page])
            conn.rollback()

    def privilege_checks(self, schemas: list[str]) -> list[CheckLine]:
        """USAGE on each kept schema, without which nothing in it can be read; and whether
        pg_stat_statements can be read (for query lineage only: informational)."""
        with self.engine.connect() as conn:
            user, quoted_user = conn.execute(
                sa.text("SELECT current_user, quote_ident(current_user)")
            ).one()
            usage = {
                name: (quoted, usable)
                for name, quoted, usable in conn.execute(
                    sa.text(
                        "SELECT n.nspname, quote_ident(n.nspname),"
                        " has_schema_privilege(n.oid, 'USAGE')"
                        " FROM pg_namespace n WHERE n.nspname = ANY(:names)"
                    ),
                    {"names": schemas},
                )
            }
            checks: list[CheckLine] = []
            for schema in schemas:
                if schema not in usage:
                    checks.append((f"schema {schema}", False, "does not exist (any more)"))
                    continue
                quoted, usable = usage[schema]
                detail = (
                    "USAGE granted"
                    if usable
                    else f"role {user} lacks USAGE: GRANT USAGE ON SCHEMA {quoted} TO {quoted_user}"
                )
                checks.append((f"schema {schema}", bool(usable), detail))
            checks.append(_stat_statements(conn, quoted_user))
            conn.rollback()
        return checks

    def query_log(self) -> list[LoggedStatement]:
        """The statements pg_stat_statements holds for this database that may write a table.

        Raises `QueryLogUnavailable`, saying how to enable it, when the extension is missing,
        not preloaded, or hides other roles' statements from the login role.
        """
        try:
            with self.engine.connect() as conn:
                schema = conn.execute(sa.text(_EXTENSION_SQL)).scalar()
                if schema is None:
                    raise _unavailable("the extension is not installed in this database")
                rows = conn.execute(
                    sa.text(_QUERY_LOG_SQL.format(schema=schema)),
                    {"keywords": _QUERY_LOG_KEYWORDS},
                ).all()
                user = conn.execute(sa.text("SELECT current_user")).scalar()
                conn.rollback()
        except sa.exc.DBAPIError as err:
            raise _unavailable(first_line(err.orig or err)) from err
        found = [
            LoggedStatement(int(q), str(text), int(c)) for q, text, c in rows if text != _HIDDEN
        ]
        if len(found) < len(rows):
            raise _unavailable(
                f"{len(rows) - len(found)} statements of other roles are hidden from role {user}",
                role=str(user),
                partial=found,
            )
        return found

    def lookup(self, schema: str, table: str | None = None) -> Lookup:
        """A schema by name, or a relation of it that `tables` would read. pg_catalog lists
        every object whatever the role's privileges, so a miss is certain."""
        if table is None:
            return Lookup(bool(self._query(_LOOKUP_SCHEMA_SQL, schema=schema)))
        rows = self._query(_LOOKUP_TABLE_SQL, schema=schema, table=table)
        return Lookup(True, _KINDS[rows[0][0]]) if rows else Lookup(False)

    def database_exists(self, name: str) -> bool:
        """Whether the server has a database of that name that `databases` would list."""
        return bool(self._query(_LOOKUP_DATABASE_SQL, database=name))

    def close(self) -> None:
        self.engine.dispose()

    def _query(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            rows = list(conn.execute(sa.text(sql), params))
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


def _page(conn: sa.Connection, relations: list[tuple[str, TableKind, int]]) -> Iterator[RawTable]:
    """One page of relations, fully described, in the order given."""
    tables = {name: RawTable(name=name, kind=kind) for name, kind, _ in relations}
    where = {"oids": [o for _, _, o in relations]}
    for name, _kind, comment, definition in conn.execute(sa.text(_TABLES_SQL), where):
        if name in tables:
            tables[name].comment = comment
            tables[name].definition = definition
    types = {row[0]: PgType(*row[1:]) for row in conn.execute(sa.text(_TYPES_SQL), where)}
    _add_columns(tables, conn.execute(sa.text(_COLUMNS_SQL), where), types)
    _add_constraints(tables, conn.execute(sa.text(_CONSTRAINTS_SQL), where))
    yield from tables.values()


def _stat_statements(conn: sa.Connection, quoted_user: str) -> CheckLine:
    """Whether pg_stat_statements can be read: informational, query lineage needs it only."""
    check = "pg_stat_statements"
    schema = conn.execute(sa.text(_EXTENSION_SQL)).scalar()
    if schema is None:
        return (
            check,
            True,
            "not installed (query lineage only); to enable: add it to"
            " shared_preload_libraries, restart, CREATE EXTENSION pg_stat_statements",
        )
    try:
        with conn.begin_nested():
            conn.execute(sa.text(f"SELECT 1 FROM {schema}.pg_stat_statements LIMIT 1")).all()
    except sa.exc.DBAPIError as err:
        reason = first_line(err.orig or err)
        return (check, True, f"not readable (query lineage only): {reason}")
    all_stats = conn.execute(sa.text("SELECT pg_has_role('pg_read_all_stats', 'USAGE')")).scalar()
    if all_stats:
        return (check, True, "readable, every role's statements")
    return (
        check,
        True,
        f"readable, own statements only; for all: GRANT pg_read_all_stats TO {quoted_user}",
    )


def _connect_timeout(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    cparams.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)


def _add_columns(tables: dict[str, RawTable], rows: Any, types: dict[int, PgType]) -> None:
    for table, name, type_, nullable, default, comment, ordinal, type_oid in rows:
        if table in tables:
            tables[table].columns.append(
                RawColumn(
                    name=name,
                    type=column_type(type_oid, type_, types),
                    nullable=nullable,
                    ordinal=ordinal,
                    default=default,
                    comment=comment,
                )
            )


class PgType(NamedTuple):
    """A row of `_TYPES_SQL`: one type, and the oids of the types it is made of."""

    kind: str  # typtype: b(ase), c(omposite), d(omain), e(num), r(ange), m(ultirange), p(seudo)
    prefix: str | None  # the quoted schema and dot `format_type` puts before a user type's name
    element: int | None  # an array's element type
    base: int | None  # a domain's base type
    base_formatted: str | None  # the base type as `format_type` prints it with the domain's typmod
    labels: str | None  # an enum's labels, quoted, comma-separated, in order
    fields: str | None  # a composite type's fields: `name type,…`


def column_type(oid: int, formatted: str, types: dict[int, PgType]) -> str:
    """What `format_type` printed for type `oid`, without the type's schema, and spelled out as
    `types.map_type` reads it: an enum as `enum name('A','B')`, a domain as `domain name(base)`
    (its base in turn spelled out: a domain over a domain nests), a composite type as `struct
    name(field type,…)`, an array as its element type's spelling and `[]`."""
    found = types.get(oid)
    if found is None:
        return formatted
    if found.element is not None and formatted.endswith("[]"):
        return column_type(found.element, formatted[:-2], types) + "[]"
    if found.prefix and formatted.startswith(found.prefix):
        formatted = formatted[len(found.prefix) :]
    if found.kind == "d" and found.base is not None and found.base_formatted is not None:
        return f"domain {formatted}({column_type(found.base, found.base_formatted, types)})"
    if found.kind == "e" and found.labels is not None:
        return f"enum {formatted}({found.labels})"
    if found.kind == "c":
        return f"struct {formatted}({found.fields or ''})"
    return formatted


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
