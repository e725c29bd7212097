"""Lineage between dbt's tables: an edge for each dependency, columns from the compiled SQL.

Table edges come from `depends_on` (through ephemeral models). Column lineage comes from
parsing each model's compiled SQL with the sql source's parser, given the columns of the tables
the model reads (the catalog's, else the documented ones) so that `select *` expands; a column
is kept only when both ends are columns the tables have, so a mistraced expression never
reaches the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from syncer import fqn
from syncer.connectors.dbt.mapping import Project
from syncer.connectors.sql.lineage import ColumnFlow, TableName, view_sources
from syncer.models import ColumnLineage, EntityReference, LineageEdge, Table

# dbt adapter types whose SQL sqlglot reads under another name; others parse as themselves if
# sqlglot knows them, else with its generic dialect.
_DIALECTS = {"sqlserver": "tsql", "fabric": "tsql", "synapse": "tsql"}
_KNOWN_DIALECTS = frozenset(
    {
        "athena", "bigquery", "clickhouse", "databricks", "duckdb", "mysql", "oracle",
        "postgres", "redshift", "snowflake", "spark", "sqlite", "teradata", "trino", "tsql",
    }
)  # fmt: skip

# (database, schema, table) lower-cased -> table FQN
_Index = dict[tuple[str, str, str], str]


def dialect_of(adapter_type: str) -> str:
    """The sqlglot dialect for a dbt adapter type ("" is sqlglot's generic SQL)."""
    name = _DIALECTS.get(adapter_type, adapter_type)
    return name if name in _KNOWN_DIALECTS else ""


def lineage_edges(project: Project, *, column_lineage: bool = True) -> Iterator[LineageEdge]:
    tables = {t.fqn: t for t in project.tables}
    index: _Index = {_parts(name): name for name in tables}
    dialect = dialect_of(project.adapter_type)
    for table in project.tables:
        upstreams = [u for u in project.upstreams.get(table.fqn, []) if u != table.fqn]
        if not upstreams:
            continue
        flows: tuple[ColumnFlow, ...] = ()
        if column_lineage and table.schema_definition:
            columns_of = _columns_of(table, tables, index)
            parsed = view_sources(table.schema_definition, dialect, columns_of)
            flows = parsed.columns if parsed else ()
        for upstream in upstreams:
            yield LineageEdge(
                from_entity=EntityReference(type="table", fully_qualified_name=upstream),
                to_entity=EntityReference(type="table", fully_qualified_name=table.fqn),
                source="DbtLineage",
                columns_lineage=_columns(flows, tables[upstream], table, index),
            )


def _columns_of(
    table: Table, tables: Mapping[str, Table], index: _Index
) -> Callable[[TableName], list[str] | None]:
    """The columns (the catalog's, else the documented ones) of a table a model's SQL names,
    for its stars to expand to."""
    database, schema, _ = _parts(table.fqn)

    def columns_of(name: TableName) -> list[str] | None:
        found = _resolve(name, database, schema, index)
        if found is None or found == table.fqn:
            return None
        return [c.name for c in tables[found].columns] or None

    return columns_of


def _columns(
    flows: tuple[ColumnFlow, ...], upstream: Table, table: Table, index: _Index
) -> list[ColumnLineage]:
    """The column lineage of the flows that read `upstream`."""
    database, schema, _ = _parts(table.fqn)
    source_columns = {c.name.lower(): c.name for c in upstream.columns}
    target_columns = {c.name.lower(): c.name for c in table.columns}
    found: list[ColumnLineage] = []
    for flow in flows:
        names = [
            column
            for read, column in flow.sources
            if _resolve(read, database, schema, index) == upstream.fqn
        ]
        target = target_columns.get(flow.target.lower())
        if not names or target is None or any(n.lower() not in source_columns for n in names):
            continue
        found.append(
            ColumnLineage(
                from_columns=[
                    fqn.join(upstream.fqn, source_columns[n.lower()]) for n in dict.fromkeys(names)
                ],
                to_column=fqn.join(table.fqn, target),
                function=flow.function,
            )
        )
    return found


def _resolve(
    name: TableName, database: str, schema: str, index: Mapping[tuple[str, str, str], str]
) -> str | None:
    """The FQN of a table the SQL names; unqualified parts are the model's own database and
    schema (dbt compiles refs fully qualified, so this is rare)."""
    key = ((name.catalog or database).lower(), (name.schema or schema).lower(), name.name.lower())
    return index.get(key)


def _parts(table_fqn: str) -> tuple[str, str, str]:
    _, database, schema, name = fqn.split(table_fqn)
    return database.lower(), schema.lower(), name.lower()
