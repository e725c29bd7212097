"""The sql source: services, databases, schemas, tables and views, and view lineage."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import structlog
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from connectors.sql.config import SqlConfig
from connectors.sql.lineage import ColumnFlow, TableName, view_sources
from connectors.sql.mapping import TABLE_TYPES, VIEW_TYPES, to_table
from connectors.sql.reflect import FILE_DIALECTS, Reflector, check_url, open_reflector
from syncer import fqn
from syncer.errors import SourceError
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
        ]

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
            for schema in schemas:
                yield from self._tables(schema)

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
                if (flow := _column_lineage(f, table, source_fqn, columns, entity, view_columns))
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
        checks = [("connect", True, self.url.render_as_string(hide_password=True))]
        try:
            schemas = reflector.schemas()
        except Exception as err:
            checks.append(("list schemas", False, _first_line(err)))
            return ConnectionReport(ok=False, checks=checks)
        kept = [s for s in schemas if self._keeps_schema(s)]
        detail = f"{len(schemas)} visible, {len(kept)} kept by the filters: {', '.join(kept)}"
        checks.append(("list schemas", True, detail))
        return ConnectionReport(ok=True, checks=checks)

    def close(self) -> None:
        if self._reflector is not None:
            self._reflector.close()
            self._reflector = None
        self._all_schemas = None

    # --- reading ---------------------------------------------------------------------------

    def _open(self) -> Reflector:
        if self._reflector is None:
            self._reflector = open_reflector(self.url)
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
        return (
            f"cannot list the schemas of {where}: {_first_line(err)}; check that the"
            " database is reachable and the user may read its catalog"
        )

    def _tables(self, schema: str) -> Iterator[Either]:
        schema_fqn = fqn.join(self.database_fqn, schema)
        try:
            raw_tables = self._open().tables(schema, lambda name: self._keeps("tables", name))
        except Exception as err:
            # The engine skips deletion detection for a stream with errors, so the tables of
            # this schema are not taken for deleted.
            yield RecordError(schema_fqn, f"schema could not be reflected: {_first_line(err)}")
            return
        wanted_types = self.config.table_types
        # Tables before views, so a view's lineage can use the columns reflected for them.
        for raw in sorted(raw_tables, key=lambda t: (t.kind != "table", t.name)):
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
    view: Table,
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
        to_column=fqn.join(view.fqn, target),
        function=flow.function,
    )


def _default_database(url: URL) -> str:
    """A file database is named by its file's stem; a server's by the URL's database."""
    if url.get_backend_name() in FILE_DIALECTS and url.database:
        return Path(url.database).stem
    return url.database or url.get_backend_name()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
