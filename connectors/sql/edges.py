"""Lineage edges of the sql source: from views' SQL and from the statements a server logged.

`lineage.py` and `querylog.py` parse SQL and give names as it writes them; here those names are
resolved against the tables this run reflected in the same database (`Target.known`), so that
an edge joins the FQNs the tables were synced under, with their columns' own spelling.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog

from syncer import fqn
from syncer.connectors.sql.reflect.model import QueryLogUnavailable
from syncer.connectors.sql.targets import COLUMN_SEPARATOR, Target
from syncer.models import ColumnLineage, EntityReference, LineageEdge, LineageSource, Table
from syncer.steps import Either, RecordError

# The parsers import sqlglot (about 60 ms), loaded once SQL is parsed: a run that finds every
# view unchanged parses none.
if TYPE_CHECKING:
    from syncer.connectors.sql.lineage import ColumnFlow, TableName
    from syncer.connectors.sql.querylog import StatementLineage

log = structlog.get_logger(__name__)

# Dialects whose reflector reads a query log (`query_log()`), and the record named in its error.
QUERY_LOG_DIALECTS = {
    "postgresql": "pg_stat_statements",
    "mysql": "performance_schema",
    "mariadb": "performance_schema",
}
# Where an unqualified table in a logged statement is looked for: the session's search_path is
# not logged, and PostgreSQL's default puts `public` first.
_QUERY_SCHEMA = "public"


class Lineage:
    """Builds the edges of one source's databases."""

    def __init__(self, service_name: str, dialect: str) -> None:
        self._service_name = service_name
        self._dialect = dialect

    def of_view(self, target: Target, view: Table) -> list[LineageEdge]:
        """An edge from each table a view in `target` reads, with the column lineage its SQL
        shows; none when the SQL cannot be parsed."""
        from syncer.connectors.sql.lineage import view_sources

        assert view.schema_definition is not None
        schema = fqn.split(view.database_schema)[-1]
        horizon = target.horizons.pop(view.fqn, None)

        def columns_of(table: TableName) -> list[str] | None:
            # The columns this run reflected for a table the view reads (a view read earlier
            # included), for its stars to expand to; the view's own are never used.
            source_fqn, columns = self._resolve(target, table, schema, horizon)
            return list(columns.values()) if columns and source_fqn != view.fqn else None

        parsed = view_sources(view.schema_definition, self._dialect, columns_of)
        if parsed is None:
            return []
        view_columns = {c.name.lower(): c.name for c in view.columns}
        edges = []
        for table in parsed.tables:
            source_fqn, columns = self._resolve(target, table, schema, horizon)
            if source_fqn == view.fqn:
                continue
            lineage = _columns(parsed.columns, table, source_fqn, columns, view.fqn, view_columns)
            edges.append(_edge(source_fqn, view.fqn, "ViewLineage", None, lineage))
        return edges

    def of_query_log(self, target: Target) -> Iterator[Either]:
        """Edges from the statements pg_stat_statements (MySQL, MariaDB: performance_schema)
        logged for a database, each with its statement redacted. Read after the tables
        stream, whose tables it connects; a statement whose tables this run did not reflect
        gives no edge."""
        from syncer.connectors.sql.querylog import fingerprint, lineage_of, redact
        from syncer.connectors.sql.reflect.mysql import MySQLReflector
        from syncer.connectors.sql.reflect.postgres import PostgresReflector

        reflector = target.reflector
        if not isinstance(reflector, PostgresReflector | MySQLReflector):
            return
        try:
            statements = reflector.query_log()
        except QueryLogUnavailable as err:
            # The stream never deletes, so edges read before stay; the error says how to fix it.
            log_name = QUERY_LOG_DIALECTS[self._dialect]
            yield RecordError(fqn.join(target.fqn, log_name), str(err))
            statements = err.partial
        parsed: list[tuple[str, StatementLineage]] = []
        for statement in statements:
            # MySQL logs the database each statement ran in: its unqualified names are there.
            default_schema = statement.schema or _QUERY_SCHEMA
            found = lineage_of(statement.query, self._dialect, default_schema)
            if found is None:
                log.warning(
                    "logged statement not parsed; no lineage from it",
                    statement=fingerprint(statement.query, self._dialect),
                )
                continue
            sql = redact(statement.query, self._dialect)
            parsed.extend((sql, written) for written in found)
        edges: dict[str, LineageEdge] = {}
        # In the order of their SQL, so that the edge two statements share is the same each run.
        for sql, written in sorted(parsed, key=lambda p: p[0]):
            for edge in self._query_edges(target, sql, written):
                edges[edge.fqn] = _merged(edges[edge.fqn], edge) if edge.fqn in edges else edge
        yield from edges.values()

    def _query_edges(
        self, target: Target, sql: str, written: StatementLineage
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
            lineage = _columns(
                written.columns, table, source_fqn, source_columns, target_fqn, target_columns
            )
            yield _edge(source_fqn, target_fqn, "QueryLineage", sql, lineage)

    def _reflected(self, target: Target, table: TableName) -> tuple[str, dict[str, str]] | None:
        """The FQN and columns of a table this run reflected in `target`. A table of another
        database, a temporary or dropped one, or one the filters leave out gives no edge: the
        log outlives tables, and an edge to a table never synced could not be delivered."""
        if table.catalog and table.catalog.lower() != target.name.lower():
            return None
        if ((table.schema or _QUERY_SCHEMA).lower(), table.name.lower()) not in target.known:
            return None
        return self._resolve(target, table, _QUERY_SCHEMA)

    def _resolve(
        self, target: Target, table: TableName, default_schema: str, horizon: int | None = None
    ) -> tuple[str, dict[str, str]]:
        """The FQN of a table SQL in `target` reads, and its columns when this run reflected
        it there (among the first `horizon` tables reflected, if given); an unqualified name is
        looked for in `default_schema`."""
        database = table.catalog or target.name
        schema = table.schema or default_schema
        if database.lower() == target.name.lower():
            known = target.known.get((schema.lower(), table.name.lower()))
            if known is not None and (horizon is None or known[3] < horizon):
                names = known[2].split(COLUMN_SEPARATOR) if known[2] else []
                columns = {column.lower(): column for column in names}
                return fqn.join(target.fqn, known[0]) + "." + fqn.quote(known[1]), columns
            database = target.name
        return fqn.build(self._service_name, database, schema, table.name), {}


def _edge(
    source_fqn: str,
    target_fqn: str,
    kind: LineageSource,
    sql: str | None,
    columns: list[ColumnLineage],
) -> LineageEdge:
    return LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name=source_fqn),
        to_entity=EntityReference(type="table", fully_qualified_name=target_fqn),
        source=kind,
        sql_query=sql,
        columns_lineage=columns,
    )


def _columns(
    flows: tuple[ColumnFlow, ...],
    table: TableName,
    source_fqn: str,
    source_columns: dict[str, str],
    target_fqn: str,
    target_columns: dict[str, str],
) -> list[ColumnLineage]:
    """The column lineage from `table` among an output's column flows."""
    return [
        found
        for flow in flows
        if (
            found := _column_lineage(
                flow, table, source_fqn, source_columns, target_fqn, target_columns
            )
        )
    ]


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
