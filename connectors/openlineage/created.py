"""Tables of their own for datasets that no `namespaces` entry maps (`unknown_datasets:
create`): pure functions, no I/O.

Such a dataset names a table that no other source of ours syncs, so the openlineage source
makes a minimal one, and the edges that end at it are delivered at once instead of held back:

- **service**: one database service per namespace, named after the source's `service_name`
  and the namespace, lower-cased, every run of other characters one `_`
  (`postgres://db.internal:5432` under `openlineage` is `openlineage_postgres_db_internal_5432`).
  Its type follows the namespace's scheme where OpenMetadata has one (`SERVICE_TYPES`),
  `CustomDatabase` otherwise.
- **levels**: the name's dot-separated parts fill database, schema and table. Three or more
  parts are `database.schema.table`, further parts staying in the table's name (as
  `naming.table_fqn` keeps them); two are MySQL's `database.table`, whose database is a schema
  (as the sql source has it) under the database `default`; one is a table in `default.default`.
  A path (a namespace such as `s3://bucket`, or a name holding `/`) is the table's name whole,
  without its leading `/`, in `default.default`. `syncer.fqn` quotes what holds a dot.
- **columns**: from the `schema` facet (`fields[].name`, `type`, `description`, nested
  `fields` as children) of the runs that named the dataset, newest first: the newest run's
  columns in its order, then any that only older runs still show. A type is mapped as the sql
  source maps a database's type string (`syncer.column_types.map_type`); what it does
  not know, or a field without a type, is `UNKNOWN`.

A table is made only for a dataset that a run lists among its inputs or outputs; one that only
a `columnLineage` facet names (an ephemeral model's CTE) is left out, as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncer import fqn
from syncer.column_types import map_type
from syncer.connectors.openlineage.mapping import DatasetId, Facets
from syncer.connectors.openlineage.naming import PATH_SCHEMES, Unresolved
from syncer.models import Column, Database, DatabaseSchema, DatabaseService, DataType, Table

DEFAULT_LEVEL = "default"
"""The database or schema of a created table whose name lacks that level."""
# OpenMetadata's database service types, by the scheme of an OpenLineage namespace
# (openlineage.io/docs/spec/naming); BigQuery's namespace is `bigquery`, without `://`.
SERVICE_TYPES = {
    "awsathena": "Athena",
    "bigquery": "BigQuery",
    "cassandra": "Cassandra",
    "clickhouse": "Clickhouse",
    "databricks": "Databricks",
    "db2": "Db2",
    "hive": "Hive",
    "mariadb": "MariaDB",
    "mssql": "Mssql",
    "mysql": "Mysql",
    "oracle": "Oracle",
    "postgres": "Postgres",
    "postgresql": "Postgres",
    "presto": "Presto",
    "redshift": "Redshift",
    "snowflake": "Snowflake",
    "sqlite": "SQLite",
    "sqlserver": "Mssql",
    "teradata": "Teradata",
    "trino": "Trino",
}
FALLBACK_SERVICE_TYPE = "CustomDatabase"
# The sql source's dialect names where its type mapping reads a scheme's types differently.
_DIALECTS = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "sqlite": "sqlite",
}
# Types that OpenLineage producers spell in ways no database the sql source reads does
# (BigQuery's INT64, Spark's and Iceberg's names): what `map_type` calls UNKNOWN is looked up here.
_OTHER_TYPES = {
    "int64": DataType.BIGINT,
    "float64": DataType.DOUBLE,
    "bignumeric": DataType.NUMERIC,
    "bigdecimal": DataType.DECIMAL,
    "timestamp_ntz": DataType.TIMESTAMP,
    "timestamp_ltz": DataType.TIMESTAMPZ,
    "timestamp_tz": DataType.TIMESTAMPZ,
    "fixed": DataType.BINARY,
}
_NOT_A_NAME = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a created table lives: service, database, schema and its own name."""

    service: str
    database: str
    schema: str
    table: str

    @property
    def schema_fqn(self) -> str:
        return fqn.build(self.service, self.database, self.schema)

    @property
    def fqn(self) -> str:
        return fqn.join(self.schema_fqn, self.table)


@dataclass
class Created:
    """What `create_tables` made: the entities, parents included, and each dataset's table."""

    services: dict[str, DatabaseService] = field(default_factory=dict)
    databases: dict[str, Database] = field(default_factory=dict)
    schemas: dict[str, DatabaseSchema] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    fqns: dict[DatasetId, str] = field(default_factory=dict)
    unresolved: dict[DatasetId, Unresolved] = field(default_factory=dict)


def create_tables(datasets: Mapping[DatasetId, Sequence[Facets]], service_prefix: str) -> Created:
    """A table for each dataset, from the facets of the runs that named it (newest first), with
    its schema, database and service."""
    created = Created()
    for (namespace, name), facets in sorted(datasets.items()):
        found = place(namespace, name, service_prefix)
        if isinstance(found, Unresolved):
            created.unresolved[namespace, name] = found
            continue
        service = DatabaseService(name=found.service, service_type=service_type(namespace))
        database = Database(name=found.database, service=found.service)
        schema = DatabaseSchema(name=found.schema, database=database.fqn)
        table = Table(
            name=found.table,
            database_schema=schema.fqn,
            description=_description(facets),
            columns=columns(facets, namespace),
        )
        created.services.setdefault(service.fqn, service)
        created.databases.setdefault(database.fqn, database)
        created.schemas.setdefault(schema.fqn, schema)
        created.tables[table.fqn] = table
        created.fqns[namespace, name] = table.fqn
    return created


def place(namespace: str, name: str, service_prefix: str) -> Place | Unresolved:
    """Where the table made for a dataset lives (see the module's docstring)."""
    service = service_name(service_prefix, namespace)
    if _scheme(namespace) in PATH_SCHEMES or "/" in name:
        path = name.strip("/")
        if not path:
            return Unresolved(namespace, name, f"its name {name!r} is no path: fix the job")
        return Place(service, DEFAULT_LEVEL, DEFAULT_LEVEL, path)
    parts = [part for part in name.split(".") if part]
    if not parts:
        return Unresolved(namespace, name, f"its name {name!r} names no table: fix the job")
    # The table is the last level: padded with defaults in front, extra parts kept in its name.
    database, schema = ([DEFAULT_LEVEL] * 2 + parts)[-3:-1] if len(parts) < 3 else parts[:2]
    table = parts[-1] if len(parts) < 3 else ".".join(parts[2:])
    return Place(service, database, schema, table)


def service_name(service_prefix: str, namespace: str) -> str:
    """The database service of a namespace's created tables: stable, and readable as a name."""
    slug = _NOT_A_NAME.sub("_", namespace.lower()).strip("_")
    return f"{service_prefix}_{slug}" if slug else service_prefix


def service_type(namespace: str) -> str:
    return SERVICE_TYPES.get(_scheme(namespace), FALLBACK_SERVICE_TYPE)


def columns(facets: Iterable[Facets], namespace: str) -> list[Column]:
    """The columns that the `schema` facets show, newest first: the newest's in its order, then
    those only older ones still show."""
    dialect = _DIALECTS.get(_scheme(namespace))
    found: dict[str, Column] = {}
    for facet in facets:
        schema = facet.get("schema")
        fields = schema.get("fields") if isinstance(schema, dict) else None
        for column in _columns(fields, dialect):
            found.setdefault(column.name, column)
    return list(found.values())


def column_of(spec: Any, dialect: str | None = None) -> Column | None:
    """One `fields[]` entry of a `schema` facet as a column; None without a name."""
    if not isinstance(spec, dict):
        return None
    name, raw, description = spec.get("name"), spec.get("type"), spec.get("description")
    if not isinstance(name, str) or not name:
        return None
    children = _columns(spec.get("fields"), dialect) or None
    return Column(
        name=name,
        **column_type(raw if isinstance(raw, str) else "", dialect, nested=bool(children)),
        description=description if isinstance(description, str) and description else None,
        children=children,
    )


def column_type(raw: str, dialect: str | None = None, *, nested: bool = False) -> dict[str, Any]:
    """A `schema` facet field's type as `Column` keyword arguments: mapped as the sql source
    maps a database's type string, then `_OTHER_TYPES`; UNKNOWN when neither knows it, and
    STRUCT for a field without a type that has fields of its own."""
    if not raw.strip():
        return {"data_type": DataType.STRUCT if nested else DataType.UNKNOWN}
    mapped = map_type(raw, dialect)
    if mapped.data_type == DataType.UNKNOWN:
        other = _OTHER_TYPES.get(mapped.data_type_display or "")
        if other is not None:
            return {"data_type": other, "data_type_display": mapped.data_type_display}
    return dict(mapped.fields())


def _columns(fields: Any, dialect: str | None) -> list[Column]:
    found: dict[str, Column] = {}
    for spec in fields if isinstance(fields, list) else []:
        column = column_of(spec, dialect)
        if column is not None:
            found.setdefault(column.name, column)
    return list(found.values())


def _description(facets: Iterable[Facets]) -> str | None:
    """The newest `documentation` facet's description."""
    for facet in facets:
        documentation = facet.get("documentation")
        text = documentation.get("description") if isinstance(documentation, dict) else None
        if isinstance(text, str) and text:
            return text
    return None


def _scheme(namespace: str) -> str:
    """The system a namespace names: its URL scheme, or the whole of one without `://`
    (`bigquery`)."""
    head = namespace.split("://", 1)[0] if "://" in namespace else namespace
    return head.lower()
