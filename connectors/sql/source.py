"""The sql source: services, databases, schemas, tables and views, and view lineage."""

from __future__ import annotations

import queue
import re
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Literal

import structlog
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from connectors.sql.config import SqlConfig
from connectors.sql.lineage import ColumnFlow, TableName, view_sources
from connectors.sql.mapping import TABLE_TYPES, VIEW_TYPES, to_table
from connectors.sql.querylog import StatementLineage, fingerprint, lineage_of, redact
from connectors.sql.reflect import (
    FILE_DIALECTS,
    ChecksPrivileges,
    RawTable,
    Reflector,
    check_url,
    open_reflector,
    reflection_order,
)
from connectors.sql.reflect.model import QueryLogUnavailable
from syncer import fqn
from syncer.errors import ConfigError, SourceError
from syncer.models import (
    ColumnLineage,
    Database,
    DatabaseSchema,
    DatabaseService,
    Entity,
    EntityReference,
    LineageEdge,
    Table,
)
from syncer.steps import ConnectionReport, CursorValue, Either, RecordError, Source, Stream

log = structlog.get_logger(__name__)

# OpenMetadata's service types, by SQLAlchemy dialect name.
_SERVICE_TYPES = {
    "sqlite": "SQLite",
    "duckdb": "CustomDatabase",  # OpenMetadata has no DuckDB service type
    "postgresql": "Postgres",
    "mysql": "Mysql",
    "mariadb": "MariaDB",
    "mssql": "Mssql",
    "oracle": "Oracle",
    "snowflake": "Snowflake",
    "bigquery": "BigQuery",
    "redshift": "Redshift",
    "trino": "Trino",
    "clickhouse": "Clickhouse",
}
# Catalog schemas of the servers the generic path reads; they describe the server, not data.
_SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
Kind = Literal["databases", "schemas", "tables"]
# Where an unqualified table in a logged statement is looked for: the session's search_path is
# not logged, and PostgreSQL's default puts `public` first.
_QUERY_SCHEMA = "public"
# Dialects whose reflector reads a query log (`query_log()`), and the record named in its error.
_QUERY_LOG_DIALECTS = {
    "postgresql": "pg_stat_statements",
    "mysql": "performance_schema",
    "mariadb": "performance_schema",
}


# (schema, table) lower-cased → (schema, table, {column lower-cased: column}) as reflected.
_Known = dict[tuple[str, str], tuple[str, str, dict[str, str]]]


@dataclass(eq=False)
class _Target:
    """One database the source reads: its name and FQN, the URL that reaches it, its reflector
    and schemas (read once per run), or why it cannot be read; and the tables this run
    reflected in it, so that lineage never mixes same-named tables of two databases."""

    name: str
    fqn: str
    url: URL
    reflector: Reflector | None = None
    all_schemas: list[str] | None = None
    error: str | None = None
    # As reflected, so view SQL that spells a name in another case still finds its table.
    known: _Known = field(default_factory=dict)


class SqlSource(Source):
    """Reads one database through SQLAlchemy, or DuckDB's and SQLite's own catalogs; with
    `all_databases`, every database of a PostgreSQL server."""

    config_model = SqlConfig
    config: SqlConfig

    def __init__(self, config: SqlConfig, reflector: Reflector | None = None) -> None:
        super().__init__(config)
        self.url: URL = config.sqlalchemy_url
        if reflector is None:
            # An unknown dialect or a driver that is not installed is a config error, found
            # when the config is loaded; nothing connects here.
            check_url(self.url)
        self.dialect = self.url.get_backend_name()
        self.service_name = config.service_name or self.dialect
        self.database_name = config.database_name or _default_database(self.url)
        self.database_fqn = fqn.build(self.service_name, self.database_name)
        if config.query_lineage and self.dialect not in _QUERY_LOG_DIALECTS:
            raise ConfigError(
                "query_lineage: it reads PostgreSQL's pg_stat_statements or MySQL's and"
                f" MariaDB's performance_schema, which a {self.dialect} database does not have:"
                " remove it, or set it to false"
            )
        if config.all_databases and self.dialect != "postgresql":
            raise ConfigError(
                "all_databases: it lists the databases of a PostgreSQL server, which a"
                f" {self.dialect} url does not name (MySQL's and MariaDB's databases are read"
                " as schemas already): remove it, or set it to false"
            )
        if config.all_databases and config.database_name:
            raise ConfigError(
                "all_databases: every database keeps its own name as the second part of its"
                " FQNs: remove database_name"
            )
        # The reflector on the URL's database: the one read, or, with all_databases, the one
        # the server's databases are listed from.
        self._reflector = reflector
        # The databases read, each connected once per run by `_connect`.
        self._targets: list[_Target] | None = None

    def streams(self) -> list[Stream]:
        return [
            Stream("services", "databaseService"),
            Stream("databases", "database"),
            Stream("schemas", "databaseSchema"),
            Stream("tables", "table"),
            Stream("lineage", "lineage", derived=True),
            # Read, not derived: its edges come from the query log, not from other entities. A
            # statement that aged out of the log does not mean its lineage is gone.
            *(
                [Stream("query_lineage", "lineage", deletions="never")]
                if self._reads_query_log
                else []
            ),
        ]

    @property
    def _reads_query_log(self) -> bool:
        return self.config.query_lineage and self.dialect in _QUERY_LOG_DIALECTS

    def read(self, stream: Stream, since: CursorValue | None) -> Iterator[Either]:
        # Connect before the first record of any stream: a source that cannot be read must
        # fail before its service and database are synced, or a fixed URL leaves them behind.
        targets = self._connect()
        if stream.name == "services":
            yield DatabaseService(
                name=self.service_name,
                service_type=_SERVICE_TYPES.get(self.dialect, "CustomDatabase"),
            )
            return
        for target in targets:
            if not self._keeps("databases", target.name):
                continue
            if target.error is not None:
                # The engine skips deletions in a stream with errors: nothing of a database
                # that could not be read is taken for deleted.
                if stream.name in ("databases", "schemas", "tables"):
                    yield RecordError(target.fqn, target.error)
                continue
            schemas = self._kept_schemas(target)
            if stream.name == "databases":
                yield Database(name=target.name, service=self.service_name)
            elif stream.name == "schemas":
                for schema in schemas:
                    yield DatabaseSchema(name=schema, database=target.fqn)
            elif stream.name == "tables":
                for schema, raw_tables in self._reflect(target, schemas):
                    yield from self._tables(target, schema, raw_tables)
            elif stream.name == "query_lineage" and self._reads_query_log:
                yield from self._query_lineage(target)
            self._release(target)

    def relationships(self, entity: Entity) -> Iterable[Entity]:
        if not (
            self.config.view_lineage
            and isinstance(entity, Table)
            and entity.table_type in VIEW_TYPES
            and entity.schema_definition
        ):
            return []
        target = self._target_of(entity.database_schema)
        if target is None:
            return []
        parsed = view_sources(entity.schema_definition, self.dialect)
        if parsed is None:
            return []
        schema = fqn.split(entity.database_schema)[-1]
        view_columns = {c.name.lower(): c.name for c in entity.columns}
        edges = []
        for table in parsed.tables:
            source_fqn, columns = self._resolve(target, table, schema)
            if source_fqn == entity.fqn:
                continue
            lineage = [
                flow
                for f in parsed.columns
                if (
                    flow := _column_lineage(f, table, source_fqn, columns, entity.fqn, view_columns)
                )
            ]
            edges.append(
                LineageEdge(
                    from_entity=EntityReference(type="table", fully_qualified_name=source_fqn),
                    to_entity=EntityReference(type="table", fully_qualified_name=entity.fqn),
                    source="ViewLineage",
                    sql_query=None,
                    columns_lineage=lineage,
                )
            )
        return edges

    def test_connection(self) -> ConnectionReport:
        reflector = self._open()  # a bad URL or a missing file raises with what to fix
        url = self.url.render_as_string(hide_password=True)
        if not self.config.all_databases:
            try:
                schemas = reflector.schemas()  # the first statement: it connects and logs in
            except Exception as err:
                return ConnectionReport(
                    ok=False, checks=[("connect", False, self._unreadable(err, self.url))]
                )
            checks = [("connect", True, url), *self._database_checks(reflector, schemas, "")]
            return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)
        try:
            names = self._database_names()
        except Exception as err:
            return ConnectionReport(
                ok=False, checks=[("connect", False, self._unreadable(err, self.url, "databases"))]
            )
        kept = [n for n in names if self._keeps("databases", n)]
        detail = f"{len(names)} visible, {len(kept)} kept by the filters: {', '.join(kept)}"
        checks = [("connect", True, url), ("list databases", True, detail)]
        self._targets = self._open_targets(kept)
        for target in self._targets:
            where = target.url.render_as_string(hide_password=True)
            checks.append((f"database {target.name}", target.error is None, target.error or where))
        for target in self._targets:
            if target.reflector is not None and target.all_schemas is not None:
                prefix = f"{target.name}: "
                checks.extend(self._database_checks(target.reflector, target.all_schemas, prefix))
                self._release(target)
        # Only a failed check fails the report; a missing privilege that extraction can do
        # without (pg_stat_statements) is an ok line with a warning.
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def _database_checks(
        self, reflector: Reflector, schemas: list[str], prefix: str
    ) -> list[tuple[str, bool, str]]:
        """Listing one database's schemas, and the privileges its kept schemas need."""
        kept = [s for s in schemas if self._keeps_schema(s)]
        detail = f"{len(schemas)} visible, {len(kept)} kept by the filters: {', '.join(kept)}"
        checks = [(f"{prefix}list schemas", True, detail)]
        if not hasattr(reflector, "privilege_checks"):
            return checks
        checker: ChecksPrivileges = reflector  # type: ignore[assignment]
        try:
            privileges = checker.privilege_checks(kept)
        except Exception as err:
            checks.append((f"{prefix}privileges", False, f"cannot be checked: {_first_line(err)}"))
            return checks
        # A missing privilege that extraction can do without (SHOW DATABASES, SHOW VIEW,
        # pg_stat_statements) is an ok line with a warning.
        checks.extend((prefix + check, ok, detail) for check, ok, detail in privileges)
        return checks

    def close(self) -> None:
        for target in self._targets or []:
            if target.reflector is not None and target.reflector is not self._reflector:
                target.reflector.close()
        self._targets = None
        if self._reflector is not None:
            self._reflector.close()
            self._reflector = None

    # --- reading ---------------------------------------------------------------------------

    def _open(self) -> Reflector:
        if self._reflector is None:
            self._reflector = self._open_url(self.url)
        return self._reflector

    def _open_url(self, url: URL) -> Reflector:
        return open_reflector(
            url,
            statement_timeout_seconds=self.config.statement_timeout_seconds,
            concurrency=self.config.concurrency,
            page_size=self.config.page_size,
        )

    def _connect(self) -> list[_Target]:
        """The databases read, each with its schemas listed once: opening a database and
        reading its catalog proves that it is reachable and, for a file, that it is a
        database of its kind. With all_databases, the server's databases are listed from the
        URL's database; one that cannot be read is kept with its error, the others go on."""
        if self._targets is None:
            reflector = self._open()  # a bad URL or a missing file raises with what to fix
            if self.config.all_databases:
                try:
                    names = self._database_names()
                except Exception as err:
                    raise SourceError(self._unreadable(err, self.url, "databases")) from err
                self._targets = self._open_targets(
                    [n for n in names if self._keeps("databases", n)]
                )
            else:
                try:
                    schemas = reflector.schemas()
                except Exception as err:
                    raise SourceError(self._unreadable(err, self.url)) from err
                self._targets = [
                    _Target(self.database_name, self.database_fqn, self.url, reflector, schemas)
                ]
        return self._targets

    def _database_names(self) -> list[str]:
        """The databases of the server that accept connections, templates left out."""
        lister = getattr(self._open(), "databases", None)
        if lister is None:
            raise SourceError("all_databases: this database's reflector cannot list databases")
        return [str(name) for name in lister()]

    def _open_targets(self, names: list[str]) -> list[_Target]:
        """A target per database, connected and with its schemas listed, or with the reason it
        cannot be read; each on its own engine (the URL's database on the one it has)."""
        targets = []
        for name in names:
            url = self.url.set(database=name)
            target = _Target(name, fqn.build(self.service_name, name), url)
            try:
                reflector = self._open() if name == self.url.database else self._open_url(url)
                target.reflector = reflector
                target.all_schemas = reflector.schemas()
            except Exception as err:
                target.error = (
                    f"{self._unreadable(err, url)}, or leave the database out with"
                    " exclude.databases"
                )
            self._release(target)
            targets.append(target)
        return targets

    def _release(self, target: _Target) -> None:
        """With all_databases, close the idle connections of a database between streams, so
        a server with many databases is not held open once per database. The engine opens
        new ones when the database is read again."""
        if not self.config.all_databases or target.reflector is None:
            return
        engine = getattr(target.reflector, "engine", None)
        if engine is not None:
            engine.dispose()

    def _target_of(self, schema_fqn: str) -> _Target | None:
        """The database a schema belongs to, by its FQN; the only one without all_databases."""
        targets = self._targets or []
        if not self.config.all_databases:
            return targets[0] if targets else None
        database_fqn = fqn.parent(schema_fqn)
        return next((t for t in targets if t.fqn == database_fqn), None)

    def _kept_schemas(self, target: _Target) -> list[str]:
        return [s for s in target.all_schemas or [] if self._keeps_schema(s)]

    def _unreadable(self, err: Exception, url: URL, what: str = "schemas") -> str:
        where = url.render_as_string(hide_password=True)
        if isinstance(err, DBAPIError) and err.orig is not None:
            err = err.orig  # the driver's own words, without SQLAlchemy's wrapping
        if self.dialect in FILE_DIALECTS:
            return (
                f"{self.dialect} file {url.database} cannot be read as a {self.dialect}"
                f" database ({_first_line(err)}): fix url {where}"
            )
        reason = _first_line(err)
        if any(marker in reason for marker in _AUTH_FAILED):
            return (
                f"cannot list the {what} of {where}: {reason}; check the user name and"
                " password given in url (directly or through ${env:...})"
            )
        return (
            f"cannot list the {what} of {where}: {reason}; check that the"
            " database is reachable and the user may read its catalog"
        )

    def _raw_tables(self, target: _Target, schema: str) -> Generator[RawTable, None, None]:
        """A schema's tables as its reflector reads them; a reflection error is raised while
        they are read, whether the reflector raises at once or after some pages."""
        assert target.reflector is not None
        found = target.reflector.tables(schema, lambda name: self._keeps("tables", name))
        # Tables before views, so a view's lineage can use the columns reflected for them. A
        # list is sorted here; a paging reflector yields in that order itself.
        yield from sorted(found, key=reflection_order) if isinstance(found, list) else found

    def _reflect(
        self, target: _Target, schemas: list[str]
    ) -> Iterator[tuple[str, Iterator[RawTable]]]:
        """Each schema of a database with its tables, in schema order, reflecting up to
        `concurrency` schemas at once: each in a worker thread on its own pooled connection,
        handing its tables over through a bounded queue, so at most `concurrency` schemas
        (and a page of tables each) are in memory. Tables are mapped, and `known` filled, in
        this thread in schema order, so the output is the same whatever the concurrency.

        SQLite and DuckDB files are read one schema after another: their catalogs are read
        in-process with no server round trips to overlap, and the DuckDB reflector holds a
        single connection, which must not be shared between threads."""
        workers = self.config.concurrency
        if workers == 1 or self.dialect in FILE_DIALECTS or len(schemas) < 2:
            for schema in schemas:
                yield schema, self._raw_tables(target, schema)
            return
        stop = threading.Event()
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sql-reflect")
        # A page of tables may wait in each schema's queue while the one before is mapped.
        bound = self.config.page_size
        upcoming = iter(schemas)
        in_flight: deque[tuple[str, _Handoff, Future[None]]] = deque()

        def start(schema: str) -> None:
            handoff: _Handoff = queue.Queue(maxsize=bound)
            in_flight.append(
                (schema, handoff, executor.submit(self._fill, target, schema, handoff, stop))
            )

        try:
            for schema in islice(upcoming, workers):
                start(schema)
            while in_flight:
                schema, handoff, future = in_flight.popleft()
                tables = _drain(handoff)
                yield schema, tables
                for _ in tables:  # whatever the caller left unread, so the worker can end
                    pass
                future.result()  # the worker has ended: its connection is back in the pool
                for schema in islice(upcoming, 1):
                    start(schema)
        finally:
            stop.set()  # a worker blocked on a full queue gives up, closing its reader
            executor.shutdown(wait=True, cancel_futures=True)

    def _fill(self, target: _Target, schema: str, handoff: _Handoff, stop: threading.Event) -> None:
        """A worker: reads one schema into `handoff`, then None, or the error it met."""
        tables = self._raw_tables(target, schema)
        try:
            for raw in tables:
                if not _put(handoff, raw, stop):
                    return
            _put(handoff, None, stop)
        except Exception as err:
            _put(handoff, _Failed(err), stop)
        finally:
            tables.close()

    def _tables(
        self, target: _Target, schema: str, raw_tables: Iterator[RawTable]
    ) -> Iterator[Either]:
        schema_fqn = fqn.join(target.fqn, schema)
        wanted_types = self.config.table_types
        while True:
            try:
                raw = next(raw_tables)
            except StopIteration:
                return
            except Exception as err:
                # The engine skips deletion detection for a stream with errors, so the tables
                # of this schema are not taken for deleted (nor those read before the error).
                yield RecordError(schema_fqn, f"schema could not be reflected: {_first_line(err)}")
                return
            record = fqn.join(schema_fqn, raw.name)
            if raw.error is not None:
                yield RecordError(record, f"table could not be reflected: {raw.error}")
                continue
            if wanted_types is not None and TABLE_TYPES[raw.kind] not in wanted_types:
                continue
            try:
                table = to_table(raw, target.fqn, schema, self.dialect)
            except ValueError as err:  # pydantic's ValidationError and FQNError included
                yield RecordError(record, f"table could not be mapped: {_first_line(err)}")
                continue
            columns = {c.name.lower(): c.name for c in table.columns}
            target.known[(schema.lower(), raw.name.lower())] = (schema, raw.name, columns)
            yield table

    def _keeps_schema(self, schema: str) -> bool:
        system = self.dialect not in FILE_DIALECTS and schema.lower() in _SYSTEM_SCHEMAS
        return not system and self._keeps("schemas", schema)

    def _keeps(self, kind: Kind, name: str) -> bool:
        include: list[str] = getattr(self.config.include, kind)
        exclude: list[str] = getattr(self.config.exclude, kind)
        if include and not any(re.search(p, name) for p in include):
            return False
        return not any(re.search(p, name) for p in exclude)

    # --- lineage ---------------------------------------------------------------------------

    def _query_lineage(self, target: _Target) -> Iterator[Either]:
        """Edges from the statements pg_stat_statements (MySQL, MariaDB: performance_schema)
        logged for a database, each with its statement redacted; run after the tables
        stream, whose tables it connects."""
        from connectors.sql.reflect.mysql import MySQLReflector
        from connectors.sql.reflect.postgres import PostgresReflector

        reflector = target.reflector
        if not isinstance(reflector, PostgresReflector | MySQLReflector):
            return
        try:
            statements = reflector.query_log()
        except QueryLogUnavailable as err:
            # The stream never deletes, so edges read before stay; the error says how to fix it.
            log_name = _QUERY_LOG_DIALECTS[self.dialect]
            yield RecordError(fqn.join(target.fqn, log_name), str(err))
            statements = err.partial
        parsed: list[tuple[str, StatementLineage]] = []
        for statement in statements:
            # MySQL logs the database each statement ran in: its unqualified names are there.
            default_schema = statement.schema or _QUERY_SCHEMA
            found = lineage_of(statement.query, self.dialect, default_schema)
            if found is None:
                log.warning(
                    "logged statement not parsed; no lineage from it",
                    statement=fingerprint(statement.query, self.dialect),
                )
                continue
            sql = redact(statement.query, self.dialect)
            parsed.extend((sql, written) for written in found)
        edges: dict[str, LineageEdge] = {}
        # In the order of their SQL, so that the edge two statements share is the same each run.
        for sql, written in sorted(parsed, key=lambda p: p[0]):
            for edge in self._query_edges(target, sql, written):
                edges[edge.fqn] = _merged(edges[edge.fqn], edge) if edge.fqn in edges else edge
        yield from edges.values()

    def _query_edges(
        self, target: _Target, sql: str, written: StatementLineage
    ) -> Iterator[LineageEdge]:
        found = self._reflected(target, written.target)
        if found is None:
            return
        target_fqn, target_columns = found
        for table in written.sources:
            source = self._reflected(target, table)
            if source is None or source[0] == target_fqn:
                continue
            source_fqn, source_columns = source
            lineage = [
                flow
                for f in written.columns
                if (
                    flow := _column_lineage(
                        f, table, source_fqn, source_columns, target_fqn, target_columns
                    )
                )
            ]
            yield LineageEdge(
                from_entity=EntityReference(type="table", fully_qualified_name=source_fqn),
                to_entity=EntityReference(type="table", fully_qualified_name=target_fqn),
                source="QueryLineage",
                sql_query=sql,
                columns_lineage=lineage,
            )

    def _reflected(self, target: _Target, table: TableName) -> tuple[str, dict[str, str]] | None:
        """The FQN and columns of a table this run reflected in `target`. A table of another
        database, a temporary or dropped one, or one the filters leave out gives no edge: the
        log outlives tables, and an edge to a table never synced could not be delivered."""
        if table.catalog and table.catalog.lower() != target.name.lower():
            return None
        if ((table.schema or _QUERY_SCHEMA).lower(), table.name.lower()) not in target.known:
            return None
        return self._resolve(target, table, _QUERY_SCHEMA)

    def _resolve(
        self, target: _Target, table: TableName, view_schema: str
    ) -> tuple[str, dict[str, str]]:
        """The FQN of a table a view in `target` reads, and its columns when this run
        reflected it there."""
        database = table.catalog or target.name
        schema = table.schema or view_schema
        if database.lower() == target.name.lower():
            known = target.known.get((schema.lower(), table.name.lower()))
            if known is not None:
                return fqn.join(target.fqn, known[0]) + "." + fqn.quote(known[1]), known[2]
            database = target.name
        return fqn.build(self.service_name, database, schema, table.name), {}


def _column_lineage(
    flow: ColumnFlow,
    table: TableName,
    source_fqn: str,
    source_columns: dict[str, str],
    view_fqn: str,
    view_columns: dict[str, str],
) -> ColumnLineage | None:
    """The part of one output column's lineage that comes from `table`, if any."""
    target = view_columns.get(flow.target.lower(), flow.target if not view_columns else None)
    names = [column for source, column in flow.sources if source == table]
    if target is None or not names:
        return None
    if source_columns:
        # A column the source table does not have means the SQL was traced wrongly: skip it.
        if any(n.lower() not in source_columns for n in names):
            return None
        names = [source_columns[n.lower()] for n in names]
    return ColumnLineage(
        from_columns=[fqn.join(source_fqn, n) for n in dict.fromkeys(names)],
        to_column=fqn.join(view_fqn, target),
        function=flow.function,
    )


def _merged(old: LineageEdge, new: LineageEdge) -> LineageEdge:
    """One edge for two statements between the same tables: the first statement's SQL, and
    the column lineage of both (the first's expression where both fill a column)."""
    columns = {c.to_column: c for c in old.columns_lineage}
    for c in new.columns_lineage:
        if c.to_column in columns:
            known = columns[c.to_column]
            sources = list(dict.fromkeys([*known.from_columns, *c.from_columns]))
            columns[c.to_column] = known.model_copy(update={"from_columns": sorted(sources)})
        else:
            columns[c.to_column] = c
    return old.model_copy(
        update={"columns_lineage": sorted(columns.values(), key=lambda c: c.to_column)}
    )


class _Failed:
    """What a reflection worker hands over when reading its schema failed."""

    def __init__(self, error: Exception) -> None:
        self.error = error


# A reflection worker's tables, then None after the last one, or the error it met.
_Handoff = queue.Queue[RawTable | _Failed | None]


def _put(handoff: _Handoff, item: RawTable | _Failed | None, stop: threading.Event) -> bool:
    """Hand an item over, waiting while the queue is full; False once the reader stopped."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.1)
        except queue.Full:
            continue
        return True
    return False


def _drain(handoff: _Handoff) -> Iterator[RawTable]:
    """The tables a worker hands over, until its end; raises the error it met."""
    while (item := handoff.get()) is not None:
        if isinstance(item, _Failed):
            raise item.error
        yield item


def _default_database(url: URL) -> str:
    """A file database is named by its file's stem; a server's by the URL's database."""
    if url.get_backend_name() in FILE_DIALECTS and url.database:
        return Path(url.database).stem
    return url.database or url.get_backend_name()


# PostgreSQL's words for a rejected login, whose fix is the credentials, not the network.
_AUTH_FAILED = ("password authentication failed", "no password supplied")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
