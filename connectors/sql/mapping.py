"""Turns reflected tables into OpenMetadata-shaped `Table` entities."""

from __future__ import annotations

from typing import Any

from syncer import fqn
from syncer.column_types import map_type
from syncer.connectors.sql.reflect import RawColumn, RawTable, TableKind
from syncer.models import ColumnConstraint, Table, TableConstraint, TableType

TABLE_TYPES: dict[TableKind, TableType] = {
    "table": TableType.REGULAR,
    "view": TableType.VIEW,
    "materialized_view": TableType.MATERIALIZED_VIEW,
    "partitioned": TableType.PARTITIONED,
    "foreign": TableType.FOREIGN,
}
VIEW_TYPES = frozenset({TableType.VIEW, TableType.MATERIALIZED_VIEW, TableType.SECURE_VIEW})
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


def service_type(dialect: str) -> str:
    """OpenMetadata's service type for a dialect; `CustomDatabase` when it has none."""
    return _SERVICE_TYPES.get(dialect, "CustomDatabase")


def to_table(raw: RawTable, database_fqn: str, schema: str, dialect: str) -> Table:
    schema_fqn = fqn.join(database_fqn, schema)
    table_type = TABLE_TYPES[raw.kind]
    # Validated as one document: pydantic builds the columns without a Python call each.
    return Table.model_validate(
        {
            "name": raw.name,
            "database_schema": schema_fqn,
            "table_type": table_type,
            "description": raw.comment or None,
            "columns": [_column(c, raw.primary_key, dialect) for c in raw.columns],
            "table_constraints": _constraints(raw, database_fqn),
            "schema_definition": raw.definition if table_type in VIEW_TYPES else None,
        }
    )


def _column(raw: RawColumn, primary_key: tuple[str, ...], dialect: str) -> dict[str, Any]:
    """A `Column`'s fields."""
    return {
        "name": raw.name,
        **map_type(raw.type, dialect).fields(),
        "description": raw.comment or None,
        "constraint": _column_constraint(raw, primary_key),
        "ordinal_position": raw.ordinal,
    }


def _column_constraint(raw: RawColumn, primary_key: tuple[str, ...]) -> ColumnConstraint:
    # A composite key is a table constraint only: no single column is the key on its own.
    if primary_key == (raw.name,):
        return "PRIMARY_KEY"
    return "NULL" if raw.nullable else "NOT_NULL"


def _constraints(raw: RawTable, database_fqn: str) -> list[TableConstraint]:
    found: list[TableConstraint] = []
    if raw.primary_key:
        found.append(TableConstraint(constraint_type="PRIMARY_KEY", columns=list(raw.primary_key)))
    found.extend(TableConstraint(constraint_type="UNIQUE", columns=list(u)) for u in raw.unique)
    for fk in raw.foreign_keys:
        referred = fqn.join(fqn.join(database_fqn, fk.referred_schema), fk.referred_table)
        found.append(
            TableConstraint(
                constraint_type="FOREIGN_KEY",
                columns=list(fk.columns),
                referred_columns=[fqn.join(referred, c) for c in fk.referred_columns],
            )
        )
    return found
