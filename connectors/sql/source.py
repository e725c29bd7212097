"""The sql source: services, databases, schemas, tables and views, and view lineage."""

from __future__ import annotations

import queue
import re
import threading
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
    "duckdb": "DuckDb",
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


class SqlSource(Source):
    """Reads one database through SQLAlchemy, or DuckDB's and SQLite's own catalogs."""

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
        self._reflector = reflector
        # Every schema the database lists, read once per run by `_connect`.
        self._all_schemas: list[str] | None = None
        # (schema, table) lower-cased → (schema, table, {column lower-cased: column}) as
        # reflected, so view SQL that spells a name in another case still finds its table.
        self._known: dict[tuple[str, str], tuple[str, str, dict[str, str]]] = {}

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
        schemas = self._connect()
        if stream.name == "services":
            yield DatabaseService(
                name=self.service_name,
                service_type=_SERVICE_TYPES.get(self.dialect, "CustomDatabase"),
            )
        elif not self._keeps("databases", self.database_name):
            return
        elif stream.name == "databases":
            yield Database(name=self.database_name, service=self.service_name)
        elif stream.name == "schemas":
            for schema in schemas:
                yield DatabaseSchema(name=schema, database=self.database_fqn)
        elif stream.name == "tables":
            for schema, raw_tables in self._reflect(schemas):
                yield from self._tables(schema, raw_tables)
        elif stream.name == "query_lineage" and self._reads_query_log:
            yield from self._query_lineage()

    def relationships(self, entity: Entity) -> Iterable[Entity]:
        if not (
            self.config.view_lineage
            and isinstance(entity, Table)
            and entity.table_type in VIEW_TYPES
            and entity.schema_definition
        ):
            return []
        parsed = view_sources(entity.schema_definition, self.dialect)
        if parsed is None:
            return []
        schema = fqn.split(entity.database_schema)[-1]
        view_columns = {c.name.lower(): c.name for c in entity.columns}
        edges = []
        for table in parsed.tables:
            source_fqn, columns = self._resolve(table, schema)
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
        try:
            schemas = reflector.schemas()  # the first statement: it connects and logs in
        except Exception as err:
            return ConnectionReport(ok=False, checks=[("connect", False, self._unreadable(err))])
        checks = [("connect", True, url)]
        kept = [s for s in schemas if self._keeps_schema(s)]
        detail = f"{len(schemas)} visible, {len(kept)} kept by the filters: {', '.join(kept)}"
        checks.append(("list schemas", True, detail))
        if not hasattr(reflector, "privilege_checks"):
            return ConnectionReport(ok=True, checks=checks)
        checker: ChecksPrivileges = reflector  # type: ignore[assignment]
        try:
            privileges = checker.privilege_checks(kept)
        except Exception as err:
            checks.append(("privileges", False, f"cannot be checked: {_first_line(err)}"))
            return ConnectionReport(ok=False, checks=checks)
        checks.extend(privileges)
        # Only a failed check fails the report; a missing privilege that extraction can do
        # without (SHOW DATABASES, SHOW VIEW, pg_stat_statements) is an ok line with a warning.
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        if self._reflector is not None:
            self._reflector.close()
            self._reflector = None
        self._all_schemas = None

    # --- reading ---------------------------------------------------------------------------

    def _open(self) -> Reflector:
        if self._reflector is None:
            self._reflector = open_reflector(
                self.url,
                statement_timeout_seconds=self.config.statement_timeout_seconds,
                concurrency=self.config.concurrency,
                page_size=self.config.page_size,
            )
        return self._reflector

    def _connect(self) -> list[str]:
        """The schemas kept by the filters, listed once: opening the database and reading its
        catalog proves that it is reachable and, for a file, that it is a database of its kind."""
        if self._all_schemas is None:
            reflector = self._open()  # a bad URL or a missing file raises with what to fix
            try:
                self._all_schemas = reflector.schemas()
            except Exception as err:
                raise SourceError(self._unreadable(err)) from err
        return [s for s in self._all_schemas if self._keeps_schema(s)]

    def _unreadable(self, err: Exception) -> str:
        where = self.url.render_as_string(hide_password=True)
        if isinstance(err, DBAPIError) and err.orig is not None:
            err = err.orig  # the driver's own words, without SQLAlchemy's wrapping
        if self.dialect in FILE_DIALECTS:
            return (
                f"{self.dialect} file {self.url.database} cannot be read as a {self.dialect}"
                f" database ({_first_line(err)}): fix url {where}"
            )
        reason = _first_line(err)
        if any(marker in reason for marker in _AUTH_FAILED):
            return (
                f"cannot list the schemas of {where}: {reason}; check the user name and"
                " password given in url (directly or through ${env:...})"
            )
        return (
            f"cannot list the schemas of {where}: {reason}; check that the"
            " database is reachable and the user may read its catalog"
        )

    def _raw_tables(self, schema: str) -> Generator[RawTable, None, None]:
        """A schema's tables as its reflector reads them; a reflection error is raised while
        they are read, whether the reflector raises at once or after some pages."""
        found = self._open().tables(schema, lambda name: self._keeps("tables", name))
        # Tables before views, so a view's lineage can use the columns reflected for them. A
        # list is sorted here; a paging reflector yields in that order itself.
        yield from sorted(found, key=reflection_order) if isinstance(found, list) else found

    def _reflect(self, schemas: list[str]) -> Iterator[tuple[str, Iterator[RawTable]]]:
        """Each schema with its tables, in schema order, reflecting up to `concurrency`
        schemas at once: each in a worker thread on its own pooled connection, handing its
        tables over through a bounded queue, so at most `concurrency` schemas (and a page of
        tables each) are in memory. Tables are mapped, and `_known` filled, in this thread
        in schema order, so the output is the same whatever the concurrency.

        SQLite and DuckDB files are read one schema after another: their catalogs are read
        in-process with no server round trips to overlap, and the DuckDB reflector holds a
        single connection, which must not be shared between threads."""
        workers = self.config.concurrency
        if workers == 1 or self.dialect in FILE_DIALECTS or len(schemas) < 2:
            for schema in schemas:
                yield schema, self._raw_tables(schema)
            return
        stop = threading.Event()
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sql-reflect")
        # A page of tables may wait in each schema's queue while the one before is mapped.
        bound = self.config.page_size
        upcoming = iter(schemas)
        in_flight: deque[tuple[str, _Handoff, Future[None]]] = deque()

        def start(schema: str) -> None:
            handoff: _Handoff = queue.Queue(maxsize=bound)
            in_flight.append((schema, handoff, executor.submit(self._fill, schema, handoff, stop)))

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

    def _fill(self, schema: str, handoff: _Handoff, stop: threading.Event) -> None:
        """A worker: reads one schema into `handoff`, then None, or the error it met."""
        tables = self._raw_tables(schema)
        try:
            for raw in tables:
                if not _put(handoff, raw, stop):
                    return
            _put(handoff, None, stop)
        except Exception as err:
            _put(handoff, _Failed(err), stop)
        finally:
            tables.close()

    def _tables(self, schema: str, raw_tables: Iterator[RawTable]) -> Iterator[Either]:
        schema_fqn = fqn.join(self.database_fqn, schema)
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
                table = to_table(raw, self.database_fqn, schema, self.dialect)
            except ValueError as err:  # pydantic's ValidationError and FQNError included
                yield RecordError(record, f"table could not be mapped: {_first_line(err)}")
                continue
            columns = {c.name.lower(): c.name for c in table.columns}
            self._known[(schema.lower(), raw.name.lower())] = (schema, raw.name, columns)
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

    def _query_lineage(self) -> Iterator[Either]:
        """Edges from the statements pg_stat_statements (MySQL, MariaDB: performance_schema)
        logged for this database, each with its statement redacted; run after the tables
        stream, whose tables it connects."""
        from connectors.sql.reflect.mysql import MySQLReflector
        from connectors.sql.reflect.postgres import PostgresReflector, QueryLogUnavailable

        reflector = self._open()
        if not isinstance(reflector, PostgresReflector | MySQLReflector):
            return
        try:
            statements = reflector.query_log()
        except QueryLogUnavailable as err:
            # The stream never deletes, so edges read before stay; the error says how to fix it.
            log_name = _QUERY_LOG_DIALECTS[self.dialect]
            yield RecordError(fqn.join(self.database_fqn, log_name), str(err))
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
            for edge in self._query_edges(sql, written):
                edges[edge.fqn] = _merged(edges[edge.fqn], edge) if edge.fqn in edges else edge
        yield from edges.values()

    def _query_edges(self, sql: str, written: StatementLineage) -> Iterator[LineageEdge]:
        target = self._reflected(written.target)
        if target is None:
            return
        target_fqn, target_columns = target
        for table in written.sources:
            source = self._reflected(table)
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

    def _reflected(self, table: TableName) -> tuple[str, dict[str, str]] | None:
        """The FQN and columns of a table this run reflected. A table of another database, a
        temporary or dropped one, or one the filters leave out gives no edge: the log outlives
        tables, and an edge to a table never synced could not be delivered."""
        if table.catalog and table.catalog.lower() != self.database_name.lower():
            return None
        if ((table.schema or _QUERY_SCHEMA).lower(), table.name.lower()) not in self._known:
            return None
        return self._resolve(table, _QUERY_SCHEMA)

    def _resolve(self, table: TableName, view_schema: str) -> tuple[str, dict[str, str]]:
        """The FQN of a table the view reads, and its columns when this run reflected it."""
        database = table.catalog or self.database_name
        schema = table.schema or view_schema
        if database.lower() == self.database_name.lower():
            known = self._known.get((schema.lower(), table.name.lower()))
            if known is not None:
                return fqn.join(self.database_fqn, known[0]) + "." + fqn.quote(known[1]), known[2]
            database = self.database_name
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
