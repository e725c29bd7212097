"""The sql source: services, databases, schemas, tables and views, and their lineage.

The work is split by concern: `targets` (which databases are read, and connecting to them),
`reading` (the `tables` stream: schemas reflected in parallel, tables mapped in order), `edges`
(view and query-log lineage). This module holds the config checks and the list of streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from sqlalchemy.engine import URL

from syncer.connectors.sql.config import SqlConfig
from syncer.connectors.sql.edges import QUERY_LOG_DIALECTS, Lineage
from syncer.connectors.sql.existence import Existence
from syncer.connectors.sql.mapping import VIEW_TYPES, service_type
from syncer.connectors.sql.reading import TableReader
from syncer.connectors.sql.reflect import ChecksPrivileges, Reflector, check_url
from syncer.connectors.sql.scope import Scope
from syncer.connectors.sql.targets import Target, Targets, default_database
from syncer.errors import ConfigError
from syncer.models import Database, DatabaseSchema, DatabaseService, Entity, Table
from syncer.steps import (
    ConnectionReport,
    CursorValue,
    Record,
    RecordError,
    Source,
    Stream,
    Unverifiable,
)
from syncer.text import first_line

Check = tuple[str, bool, str]


class SqlSource(Source):
    """Reads one database through SQLAlchemy, or DuckDB's and SQLite's own catalogs; with
    `all_databases`, every database of a PostgreSQL server.

    Its streams share what the run learnt: the databases are connected once, before the first
    record of any stream (`Targets.connect`), and the `tables` stream records each table it
    maps (`Target.known`) for the view lineage that follows it and for `query_lineage`, which
    is listed after it; the engine reads streams in the order listed.
    """

    config_model = SqlConfig
    config: SqlConfig

    def __init__(self, config: SqlConfig, reflector: Reflector | None = None) -> None:
        super().__init__(config)
        url = config.sqlalchemy_url
        if reflector is None:
            # An unknown dialect or a driver that is not installed is a config error, found
            # when the config is loaded; nothing connects here.
            check_url(url)
        self.dialect = url.get_backend_name()
        _check_options(config, self.dialect)
        self.service_name = config.service_name or self.dialect
        self.database_name = config.database_name or default_database(url)
        self.scope = Scope(config, self.dialect)
        self.targets = Targets(config, self.scope, self.service_name, self.database_name, reflector)
        self._tables = TableReader(config, self.dialect, self.scope)
        self._lineage = Lineage(self.service_name, self.dialect)
        self._existence = Existence(config, self.scope, self.targets, self.service_name)

    def streams(self) -> list[Stream]:
        streams = [
            Stream("services", "databaseService", read=self._read_services),
            Stream("databases", "database", read=self._read_databases),
            Stream("schemas", "databaseSchema", read=self._read_schemas),
            Stream("tables", "table", read=self._read_tables, read_ahead=True),
            Stream("lineage", "lineage", derived=True),
        ]
        if self.config.query_lineage:
            # Read, not derived: its edges come from the query log, not from other entities. A
            # statement that aged out of the log does not mean its lineage is gone.
            streams.append(
                Stream("query_lineage", "lineage", read=self._read_query_lineage, deletions="never")
            )
        return streams

    def relationships(self, entity: Entity) -> Iterable[Entity]:
        """A view's lineage edges, as the view passes (after the tables it reads)."""
        if not (
            self.config.view_lineage
            and isinstance(entity, Table)
            and entity.table_type in VIEW_TYPES
            and entity.schema_definition
        ):
            return []
        target = self.targets.target_of(entity.database_schema)
        return [] if target is None else self._lineage.of_view(target, entity)

    def exists(self, entity_type: str, key: str) -> bool | Unverifiable | None:
        """One catalog lookup for a database, schema or table about to be deleted (see
        `connectors.sql.existence`); on MySQL/MariaDB without SHOW DATABASES a database not
        found is `Unverifiable`, as revoked access hides it exactly as dropping it does."""
        return self._existence.exists(entity_type, key)

    def test_connection(self) -> ConnectionReport:
        reflector = self.targets.open()  # a bad URL or a missing file raises with what to fix
        url = self.targets.url
        if not self.config.all_databases:
            try:
                schemas = reflector.schemas()  # the first statement: it connects and logs in
            except Exception as err:
                unreadable = self.targets.unreadable(err, url)
                return ConnectionReport(ok=False, checks=[("connect", False, unreadable)])
            checks = [("connect", True, _shown(url)), *self._schema_checks(reflector, schemas)]
            return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)
        try:
            names = self.targets.database_names()
        except Exception as err:
            unreadable = self.targets.unreadable(err, url, "databases")
            return ConnectionReport(ok=False, checks=[("connect", False, unreadable)])
        kept = [n for n in names if self.scope.keeps_database(n)]
        detail = f"{len(names)} visible, {len(kept)} kept by the filters: {', '.join(kept)}"
        checks = [("connect", True, _shown(url)), ("list databases", True, detail)]
        targets = self.targets.open_databases(kept)
        for target in targets:
            where = _shown(target.url)
            checks.append((f"database {target.name}", target.error is None, target.error or where))
        for target in targets:
            if target.reflector is not None and target.all_schemas is not None:
                prefix = f"{target.name}: "
                checks.extend(self._schema_checks(target.reflector, target.all_schemas, prefix))
                self.targets.release(target)
        # Only a failed check fails the report; a missing privilege that extraction can do
        # without (pg_stat_statements) is an ok line with a warning.
        return ConnectionReport(ok=all(ok for _, ok, _ in checks), checks=checks)

    def close(self) -> None:
        self.targets.close()

    # --- the streams' readers; `since` is unused: every stream reads its whole scope --------

    def _read_services(self, since: CursorValue | None) -> Iterator[Record]:
        # Connect before the first record of any stream: a source that cannot be read must
        # fail before its service is synced.
        self.targets.connect()
        yield DatabaseService(name=self.service_name, service_type=service_type(self.dialect))

    def _read_databases(self, since: CursorValue | None) -> Iterator[Record]:
        yield from self._per_database(
            lambda target: [Database(name=target.name, service=self.service_name)]
        )

    def _read_schemas(self, since: CursorValue | None) -> Iterator[Record]:
        yield from self._per_database(
            lambda target: (
                DatabaseSchema(name=schema, database=target.fqn)
                for schema in self.scope.schemas(target.all_schemas)
            )
        )

    def _read_tables(self, since: CursorValue | None) -> Iterator[Record]:
        yield from self._per_database(self._tables.tables)

    def _read_query_lineage(self, since: CursorValue | None) -> Iterator[Record]:
        # A database that cannot be read is an error of the streams above; this one never
        # deletes, so it has nothing to hold back.
        yield from self._per_database(self._lineage.of_query_log, report_errors=False)

    def _per_database(
        self, read: Callable[[Target], Iterable[Record]], *, report_errors: bool = True
    ) -> Iterator[Record]:
        """What `read` finds in each database, in turn; an unreadable one's error."""
        for target in self.targets.readable(report_errors=report_errors):
            if isinstance(target, RecordError):
                yield target
            else:
                yield from read(target)

    # --- test-connection ------------------------------------------------------------------

    def _schema_checks(
        self, reflector: Reflector, schemas: list[str], prefix: str = ""
    ) -> list[Check]:
        """Listing one database's schemas, and the privileges its kept schemas need."""
        kept = self.scope.schemas(schemas)
        detail = f"{len(schemas)} visible, {len(kept)} kept by the filters: {', '.join(kept)}"
        checks = [(f"{prefix}list schemas", True, detail)]
        if not hasattr(reflector, "privilege_checks"):
            return checks
        checker: ChecksPrivileges = reflector  # type: ignore[assignment]
        try:
            privileges = checker.privilege_checks(kept)
        except Exception as err:
            checks.append((f"{prefix}privileges", False, f"cannot be checked: {first_line(err)}"))
            return checks
        # A missing privilege that extraction can do without (SHOW DATABASES, SHOW VIEW,
        # pg_stat_statements) is an ok line with a warning.
        checks.extend((prefix + check, ok, detail) for check, ok, detail in privileges)
        return checks


def _check_options(config: SqlConfig, dialect: str) -> None:
    """Options the dialect cannot honour are config errors, named with what to do."""
    if config.query_lineage and dialect not in QUERY_LOG_DIALECTS:
        raise ConfigError(
            "query_lineage: it reads PostgreSQL's pg_stat_statements or MySQL's and"
            f" MariaDB's performance_schema, which a {dialect} database does not have:"
            " remove it, or set it to false"
        )
    if config.all_databases and dialect != "postgresql":
        raise ConfigError(
            "all_databases: it lists the databases of a PostgreSQL server, which a"
            f" {dialect} url does not name (MySQL's and MariaDB's databases are read"
            " as schemas already): remove it, or set it to false"
        )
    if config.all_databases and config.database_name:
        raise ConfigError(
            "all_databases: every database keeps its own name as the second part of its"
            " FQNs: remove database_name"
        )


def _shown(url: URL) -> str:
    """A URL as a report shows it: without its password."""
    return url.render_as_string(hide_password=True)
