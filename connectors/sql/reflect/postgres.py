"""PostgreSQL's path: pg_catalog read directly, five statements per read whatever its size.

SQLAlchemy's inspector answers most questions a table at a time; pg_catalog answers each for
every kept table of one schema, or of several, at once (`PostgresReflector.database_tables`),
streamed through server-side cursors as raw driver rows. Every connection is set up the same
way (see `_setup`), so that what is read does not depend on the login role's own settings:

- `search_path` is `pg_catalog` only, so `pg_get_viewdef` qualifies every table a view reads
  (an unqualified name in view SQL would be resolved against the view's schema, wrongly when
  the table is in `public`), and `format_type` qualifies user types, which we then unqualify.
- `statement_timeout` bounds every query, and transactions are read-only.
- `jit` is off: compiling the catalog queries (costly enough to trigger it) took longer than
  running them (the keys of 10,000 tables: 2.5 s with it, 0.65 s without).
  `cursor_tuple_fraction` is 1: the server-side cursors are read to their end, so the planner
  must plan for all their rows, not for the first tenth (which chose plans 20 times slower).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from functools import partial
from itertools import chain, islice
from operator import itemgetter
from typing import Any, NamedTuple

import sqlalchemy as sa

from syncer.connectors.sql.reflect.model import (
    CheckLine,
    ColumnRows,
    LoggedStatement,
    Lookup,
    NameFilter,
    QueryLogUnavailable,
    RawColumn,
    RawForeignKey,
    RawTable,
    RowGroups,
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

# The databases a role may try to connect to: templates and those refusing connections left out.
_DATABASES_SQL = """
SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname
"""

_SCHEMAS_SQL = f"SELECT n.nspname FROM pg_namespace n WHERE NOT {_SYSTEM} ORDER BY n.nspname"

# Point lookups before a deletion: a schema, a relation as `_RELATIONS_SQL` reads them, a database.
_LOOKUP_SCHEMA_SQL = f"SELECT 1 FROM pg_namespace n WHERE n.nspname = :schema AND NOT {_SYSTEM}"
_LOOKUP_TABLE_SQL = f"""
SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :schema AND NOT {_SYSTEM} AND c.relname = :table
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
"""
_LOOKUP_DATABASE_SQL = """
SELECT 1 FROM pg_database WHERE datname = :database AND datallowconn AND NOT datistemplate
"""

# The statements of the read path below go to the driver as they are (pyformat parameters).

_SCHEMA_SQL = """
SELECT n.nspname, n.oid, has_schema_privilege(n.oid, 'USAGE'), current_user
FROM pg_namespace n WHERE n.nspname = ANY(CAST(%(names)s AS text[]))
"""

# The relations of the read schemas: partitions are part of their parent. Only names and kinds,
# to pick and order the kept ones in Python; the statements after it describe those alone.
_RELATIONS_SQL = """
SELECT c.relnamespace, c.oid, c.relname, c.relkind FROM pg_class c
WHERE c.relnamespace = ANY(CAST(%(schemas)s AS oid[]))
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
"""

# The kept relations, each with its position in the order they are yielded in: the statements
# below are streamed in that order, so each relation's rows arrive together and in turn.
_KEPT = "unnest(CAST(%(oids)s AS oid[])) WITH ORDINALITY AS kept(oid, position)"

# A relation's comment and a view's SQL, for those that have either.
_TABLES_SQL = f"""
SELECT kept.position, d.description,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
FROM {_KEPT}
JOIN pg_class c ON c.oid = kept.oid
LEFT JOIN pg_description d
       ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE d.description IS NOT NULL OR c.relkind IN ('v', 'm')
ORDER BY kept.position
"""

# A column's type as `format_type` prints it, and its oid, which `_TYPES_SQL` describes. Its
# ordinal is counted in Python: dropped columns leave gaps in `attnum`.
_COLUMNS_SQL = f"""
SELECT kept.position, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
       d.description, a.atttypid
FROM {_KEPT}
JOIN pg_attribute a ON a.attrelid = kept.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_description d
       ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
ORDER BY kept.position, a.attnum
"""

# A column's type, and what it is made of: an array's element type (`typelem` of a varlena
# array), a domain's base type (`typbasetype`, itself maybe a domain) printed with the domain's
# type modifier, an enum's labels, a composite type's fields. Each with its schema when not
# pg_catalog, to unqualify what `format_type` prints under our search_path. Asked once per
# distinct type as the columns stream in: a catalog has few, and finding them up front would
# scan every column once more.
_TYPES_SQL = """
WITH RECURSIVE used(oid) AS (
    SELECT CAST(%(type)s AS oid)
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
SELECT kept.position, con.contype, con.conname,
       ARRAY(SELECT (SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = con.conrelid AND a.attnum = k.num)
             FROM unnest(con.conkey) WITH ORDINALITY k(num, i) ORDER BY k.i),
       rn.nspname, rc.relname,
       ARRAY(SELECT (SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = con.confrelid AND a.attnum = k.num)
             FROM unnest(con.confkey) WITH ORDINALITY k(num, i) ORDER BY k.i)
FROM {_KEPT}
JOIN pg_constraint con ON con.conrelid = kept.oid
     AND con.contype IN ('p', 'u', 'f') AND con.conparentid = 0
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
ORDER BY kept.position, con.contype, con.conname
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
            f" GRANT USAGE ON SCHEMA {schema} TO {user}, or exclude it with exclude.schemas"
        )


class PostgresReflector:
    """Reads one PostgreSQL database's catalog: the kept relations' names and kinds, then their
    comments, view definitions, columns and constraints, streamed `page_size` rows at a time
    through server-side cursors, so memory stays bounded whatever the catalog's size.

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
        """The kept relations of `schema`, in `reflection_order`."""
        for _schema, tables in self.database_tables([schema], keep):
            yield from tables

    def database_tables(
        self, schemas: list[str], keep: NameFilter
    ) -> Iterator[tuple[str, Iterator[RawTable]]]:
        """Each of `schemas`, in the order given, with its kept relations as `tables` reads
        them; read on one connection with five statements whatever their number, and one per
        distinct column type.

        A schema that cannot be read raises while its relations are read, and so, once a
        statement failed, does every schema after it (the transaction is lost). A schema's
        relations are read (or left) before the next schema is asked for.
        """
        try:
            conn = self.engine.connect()
        except sa.exc.DBAPIError as err:  # every schema fails with it, each an error of its own
            yield from ((schema, _raising(_driver_error(err))) for schema in schemas)
            return
        with conn:
            yield from _CatalogRead(conn, self.page_size).schemas(schemas, keep)
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
                " set_config('default_transaction_read_only', 'on', false),"
                " set_config('jit', 'off', false),"
                " set_config('cursor_tuple_fraction', '1', false)",
                (str(self.statement_timeout_ms),),
            )
        finally:
            cursor.close()
        dbapi_conn.commit()


class _Kept(NamedTuple):
    """A relation to describe, as it sorts: by schema, then in `reflection_order`."""

    schema: int  # the schema's index in the list read
    not_a_table: bool
    name: str
    kind: TableKind
    oid: int


class _CatalogRead:
    """One read of some schemas of the catalog, on one connection: the schemas, the kept
    relations' names and kinds (held in memory, to order them), then three statements streamed
    side by side in the relations' order (comments and view definitions, columns, constraints),
    each a server-side cursor read `page_size` rows at a time: raw driver rows, never a
    SQLAlchemy row object. Each distinct column type is described as it is first met.
    """

    def __init__(self, conn: sa.Connection, page_size: int) -> None:
        self._conn = conn
        self._page_size = page_size
        # psycopg's and psycopg2's cursors take a name, which makes them server-side.
        self._named_cursors = conn.dialect.driver in ("psycopg", "psycopg2")
        self._failed: Exception | None = None

    def schemas(
        self, names: list[str], keep: NameFilter
    ) -> Iterator[tuple[str, Iterator[RawTable]]]:
        try:
            problems, kept = self._listed(names, keep)
        except Exception as err:  # every schema fails with it, each an error of its own
            problems, kept = dict.fromkeys(names, _driver_error(err)), []
        counts = Counter(relation.schema for relation in kept)
        described = self._described(kept)
        for index, name in enumerate(names):
            problem = problems.get(name)
            tables = _raising(problem) if problem else self._guarded(described, counts[index])
            yield name, tables
            with suppress(Exception):  # the caller's to see, had it read them
                for _ in tables:  # whatever the caller left unread, to reach the next schema
                    pass

    def _listed(
        self, names: list[str], keep: NameFilter
    ) -> tuple[dict[str, Exception], list[_Kept]]:
        """Why each schema that cannot be read cannot, and the kept relations of the others,
        in the order they are yielded in."""
        found = {str(row[0]): row[1:] for row in self._rows(_SCHEMA_SQL, names=names)}
        problems: dict[str, Exception] = {}
        readable: dict[int, int] = {}  # schema oid -> its index in `names`
        for index, name in enumerate(names):
            if name not in found:
                problems[name] = LookupError(f"schema {name} does not exist (any more)")
            elif not found[name][1]:
                problems[name] = SchemaNotReadable(name, found[name][2])
            else:
                readable[found[name][0]] = index
        relations = self._rows(_RELATIONS_SQL, schemas=list(readable)) if readable else []
        kept = sorted(
            _Kept(readable[schema], _KINDS[kind] != "table", name, _KINDS[kind], oid)
            for schema, oid, name, kind in relations
            if keep(name)
        )
        return problems, kept

    def _guarded(self, described: Iterator[RawTable], count: int) -> Iterator[RawTable]:
        """The next `count` relations; once a statement failed, its error instead, in every
        schema after it as well: the transaction is lost, and an empty schema would look like
        one whose tables were all dropped."""
        if self._failed is not None:
            raise self._failed
        try:
            yield from islice(described, count)
        except Exception as err:
            self._failed = _driver_error(err)
            raise self._failed from err

    def _described(self, kept: list[_Kept]) -> Iterator[RawTable]:
        """The kept relations, in order, each with its comment, definition, columns and keys."""
        if not kept:
            return
        # As text: the server parses it faster than the driver writes a list of numbers.
        where = {"oids": "{" + ",".join(str(relation.oid) for relation in kept) + "}"}
        spelled = _Types(self._rows)
        tables, columns, constraints = (
            RowGroups(chain.from_iterable(self._stream(name, sql, where)))
            for name, sql in (
                ("syncer_tables", _TABLES_SQL),
                ("syncer_columns", _COLUMNS_SQL),
                ("syncer_constraints", _CONSTRAINTS_SQL),
            )
        )
        for position, relation in enumerate(kept, start=1):
            table = RawTable(name=relation.name, kind=relation.kind)
            for _, comment, definition in tables.take(position):
                table.comment, table.definition = comment, definition
            table.column_rows = _column_rows(columns.take(position), spelled)
            _add_constraints(table, constraints.take(position))
            yield table

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        """A statement's rows, all at once: for the few (per schema, per type) read so."""
        if not self._named_cursors:
            return list(self._conn.execute(sa.text(_named_binds(sql)), params))
        cursor = self._conn.connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _stream(self, name: str, sql: str, params: dict[str, Any]) -> Iterator[Sequence[Any]]:
        """A statement's rows, a page (`page_size` rows) at a time from a server-side cursor."""
        if not self._named_cursors:
            options = {"stream_results": True, "max_row_buffer": self._page_size}
            # As tuples, as psycopg gives them: a raw digest hashes their `repr`, which a
            # SQLAlchemy row shortens for long values.
            rows = self._conn.execution_options(**options).execute(
                sa.text(_named_binds(sql)), params
            )
            while page := [tuple(row) for row in rows.fetchmany(self._page_size)]:
                yield page
            return
        cursor = self._conn.connection.dbapi_connection.cursor(name=name)  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
            while True:
                fetched = cursor.fetchmany(self._page_size)
                yield fetched
                if len(fetched) < self._page_size:
                    return
        finally:
            cursor.close()


def _raising(error: Exception) -> Iterator[RawTable]:
    raise error
    yield  # a generator: it raises when read, as a schema read on its own does


def _driver_error(err: Exception) -> Exception:
    """The driver's own words ("canceling statement due to statement timeout"), without
    SQLAlchemy's wrapping, which the source would show as its first line."""
    if isinstance(err, sa.exc.DBAPIError) and isinstance(err.orig, Exception):
        return err.orig
    return err


def _named_binds(sql: str) -> str:
    """A statement of the read path for `sa.text`, for drivers other than psycopg's."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql)


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


def _column_rows(rows: list[Any], spelled: _Types) -> ColumnRows:
    """A relation's column rows, with each type spelled now: spelling may ask the server about
    a type met for the first time, and the columns are built later, in another thread."""
    # Looked up in C: 160,000 columns a read, a handful of distinct types.
    types = tuple(map(spelled.__getitem__, map(_TYPE, rows)))
    return ColumnRows((tuple(rows), types), tuple(map(_NAME, rows)), partial(_fill, rows, types))


_NAME = itemgetter(1)  # of a `_COLUMNS_SQL` row
_TYPE = itemgetter(6, 2)  # its type's oid and `format_type` spelling: a key of `_Types`


def _fill(rows: list[Any], types: tuple[str, ...], table: RawTable) -> None:
    # Positional: a frozen dataclass's keyword arguments cost more, 160,000 times a read.
    table.columns = [
        RawColumn(name, type_, nullable, ordinal, default, comment)
        for ordinal, ((_, name, _, nullable, default, comment, _), type_) in enumerate(
            zip(rows, types, strict=True), start=1
        )
    ]


class _Types(dict[tuple[int, str], str]):
    """Column types spelled as `column_type` does, by (type oid, printed type): each type is
    described the first time it is met, and each pair spelled once (a catalog has few)."""

    def __init__(self, rows: Callable[..., list[Any]]) -> None:
        super().__init__()
        self._rows = rows
        self._described: dict[int, PgType] = {}
        self._asked: set[int] = set()

    def __missing__(self, key: tuple[int, str]) -> str:
        oid, formatted = key
        if oid not in self._asked:
            self._asked.add(oid)
            for row in self._rows(_TYPES_SQL, type=oid):
                self._described[row[0]] = PgType(*row[1:])
        self[key] = found = column_type(oid, formatted, self._described)
        return found


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


def _add_constraints(table: RawTable, rows: list[Any]) -> None:
    for _, kind, name, columns, referred_schema, referred, referred_columns in rows:
        if kind == "p":
            table.primary_key = tuple(columns)
        elif kind == "u":
            table.unique.append(tuple(columns))
        else:
            table.foreign_keys.append(
                RawForeignKey(
                    columns=tuple(columns),
                    referred_schema=referred_schema,
                    referred_table=referred,
                    referred_columns=tuple(referred_columns),
                    name=name,
                )
            )
