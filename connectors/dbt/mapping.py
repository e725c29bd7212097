"""Turns a dbt manifest (and its catalog) into the warehouse's tables as dbt describes them.

Pure: JSON in, entities out. Models, seeds, snapshots and sources become tables under the
configured database service, with the catalog's columns and types, the manifest's
descriptions, tags and owners, and the compiled SQL as the definition. Ephemeral models have
no table: lineage goes through them to the tables they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncer import fqn
from syncer.column_types import map_type
from syncer.models import (
    Column,
    ColumnConstraint,
    Database,
    DatabaseSchema,
    DatabaseService,
    EntityReference,
    Table,
    TableType,
    TagLabel,
)

Json = dict[str, Any]

# Resource types that are tables in the warehouse (an ephemeral model is not).
RELATION_TYPES = frozenset({"model", "seed", "snapshot", "source"})
# OpenMetadata's service types, by dbt adapter type (`metadata.adapter_type`).
SERVICE_TYPES = {
    "athena": "Athena",
    "bigquery": "BigQuery",
    "clickhouse": "Clickhouse",
    "databricks": "Databricks",
    "duckdb": "CustomDatabase",  # OpenMetadata has no DuckDB service type; as the sql source
    "mysql": "Mysql",
    "oracle": "Oracle",
    "postgres": "Postgres",
    "redshift": "Redshift",
    "snowflake": "Snowflake",
    "sqlite": "SQLite",
    "sqlserver": "Mssql",
    "trino": "Trino",
}
_CONSTRAINTS: tuple[tuple[str, ColumnConstraint], ...] = (
    ("primary_key", "PRIMARY_KEY"),
    ("unique", "UNIQUE"),
    ("not_null", "NOT_NULL"),
)


@dataclass(frozen=True, slots=True)
class Naming:
    """What the config decides about names: the service, and where dbt tags go."""

    service_name: str
    service_type: str | None = None
    tag_classification: str = "dbtTags"
    # For adapters whose relations have no database part (dbt writes null).
    default_database: str = "default"


@dataclass
class Project:
    """What one manifest describes, ready to be yielded stream by stream."""

    adapter_type: str
    service: DatabaseService
    databases: list[Database] = field(default_factory=list)
    schemas: list[DatabaseSchema] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    # unique_id -> table FQN, for every node that is a table.
    relations: dict[str, str] = field(default_factory=dict)
    # table FQN -> the tables it is built from (through ephemeral models), in manifest order.
    upstreams: dict[str, list[str]] = field(default_factory=dict)


def nodes_of(manifest: Mapping[str, Any]) -> Iterable[tuple[str, Json]]:
    """Every node and source of a manifest, by unique_id."""
    for key in ("nodes", "sources"):
        section = manifest.get(key) or {}
        yield from section.items()


def build_project(
    manifest: Mapping[str, Any], catalog: Mapping[str, Any] | None, naming: Naming
) -> Project:
    adapter = str((manifest.get("metadata") or {}).get("adapter_type") or "")
    service_type = naming.service_type or SERVICE_TYPES.get(adapter, "CustomDatabase")
    project = Project(adapter, DatabaseService(name=naming.service_name, service_type=service_type))
    nodes = dict(nodes_of(manifest))
    catalogued = _catalog_entries(catalog)
    databases: dict[str, Database] = {}
    schemas: dict[str, DatabaseSchema] = {}
    for uid, node in nodes.items():
        if not is_relation(node):
            continue
        database = str(node.get("database") or naming.default_database)
        database_fqn = fqn.build(naming.service_name, database)
        schema_fqn = fqn.join(database_fqn, str(node["schema"]))
        databases.setdefault(database_fqn, Database(name=database, service=naming.service_name))
        schemas.setdefault(
            schema_fqn, DatabaseSchema(name=str(node["schema"]), database=database_fqn)
        )
        table = to_table(node, catalogued.get(uid), schema_fqn, naming, adapter)
        project.tables.append(table)
        project.relations[uid] = table.fqn
    for uid, node in nodes.items():
        if uid in project.relations:
            ups = upstream_relations(node, nodes, project.relations)
            project.upstreams[project.relations[uid]] = ups
    project.databases = list(databases.values())
    project.schemas = list(schemas.values())
    return project


def is_relation(node: Mapping[str, Any]) -> bool:
    config = node.get("config") or {}
    return (
        node.get("resource_type") in RELATION_TYPES
        and config.get("enabled", True) is not False
        and config.get("materialized") != "ephemeral"
        and bool(node.get("schema"))
    )


def relation_name(node: Mapping[str, Any]) -> str:
    """The table's name in the warehouse: a source's identifier, a model's alias."""
    if node.get("resource_type") == "source":
        return str(node.get("identifier") or node["name"])
    return str(node.get("alias") or node["name"])


def to_table(
    node: Mapping[str, Any],
    catalogued: Mapping[str, Any] | None,
    schema_fqn: str,
    naming: Naming,
    adapter: str,
) -> Table:
    metadata = (catalogued or {}).get("metadata") or {}
    return Table(
        name=relation_name(node),
        database_schema=schema_fqn,
        table_type=_table_type(node, metadata.get("type")),
        description=node.get("description") or metadata.get("comment") or None,
        columns=_columns(node, catalogued, naming, adapter),
        tags=tag_labels(tag_names(node), naming),
        owners=owners_of(node),
        schema_definition=node.get("compiled_code") or node.get("compiled_sql") or None,
    )


def owners_of(node: Mapping[str, Any]) -> list[EntityReference]:
    """Users named by `meta.owner` (a name or a list of names), as dbt projects commonly do."""
    meta = {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
    owner = meta.get("owner")
    names = [owner] if isinstance(owner, str) else owner if isinstance(owner, list) else []
    return [
        EntityReference(type="user", fully_qualified_name=name.strip())
        for name in dict.fromkeys(names)
        if isinstance(name, str) and name.strip()
    ]


def tag_names(node: Mapping[str, Any]) -> list[str]:
    config_tags = (node.get("config") or {}).get("tags")
    names = [*(node.get("tags") or []), *(config_tags if isinstance(config_tags, list) else [])]
    return [str(t) for t in dict.fromkeys(names) if t]


def tag_labels(names: Iterable[str], naming: Naming) -> list[TagLabel]:
    return [TagLabel(tag_fqn=fqn.build(naming.tag_classification, name)) for name in names]


def _table_type(node: Mapping[str, Any], catalog_type: Any) -> TableType:
    """The catalog's word on what the relation is, else what the materialization makes."""
    kind = str(catalog_type or "").upper()
    if "MATERIALIZED" in kind:
        return TableType.MATERIALIZED_VIEW
    if "VIEW" in kind:
        return TableType.VIEW
    if kind:
        return TableType.REGULAR
    materialized = (node.get("config") or {}).get("materialized")
    if materialized == "view":
        return TableType.VIEW
    if materialized == "materialized_view":
        return TableType.MATERIALIZED_VIEW
    return TableType.REGULAR


def _columns(
    node: Mapping[str, Any], catalogued: Mapping[str, Any] | None, naming: Naming, adapter: str
) -> list[Column]:
    """The catalog's columns (what the table has) with the manifest's documentation; without a
    catalog entry, the documented columns with the types the manifest declares, if any."""
    documented: dict[str, Json] = {
        str(doc.get("name") or name).lower(): doc
        for name, doc in (node.get("columns") or {}).items()
    }
    found = (catalogued or {}).get("columns") or {}
    if found:
        ordered = sorted(found.values(), key=lambda c: (c.get("index") or 0, c["name"]))
        return [
            _column(
                str(c["name"]),
                str(c.get("type") or ""),
                documented.get(str(c["name"]).lower(), {}),
                c.get("comment"),
                int(c["index"]) if c.get("index") is not None else None,
                naming,
                adapter,
            )
            for c in ordered
        ]
    return [
        _column(
            str(doc.get("name") or name),
            str(doc.get("data_type") or ""),
            doc,
            None,
            position,
            naming,
            adapter,
        )
        for position, (name, doc) in enumerate(documented.items(), start=1)
    ]


def _column(
    name: str,
    raw_type: str,
    doc: Mapping[str, Any],
    comment: Any,
    position: int | None,
    naming: Naming,
    adapter: str,
) -> Column:
    mapped = map_type(raw_type, adapter)
    return Column(
        name=name,
        **mapped.fields(),
        description=doc.get("description") or comment or None,
        constraint=_constraint(doc),
        ordinal_position=position,
        tags=tag_labels(tag_names(doc), naming),
    )


def _constraint(doc: Mapping[str, Any]) -> ColumnConstraint | None:
    """A column's constraint from a dbt model contract, the strongest one stated."""
    stated = {str(c.get("type")) for c in doc.get("constraints") or [] if isinstance(c, dict)}
    return next((ours for theirs, ours in _CONSTRAINTS if theirs in stated), None)


def _catalog_entries(catalog: Mapping[str, Any] | None) -> dict[str, Json]:
    if not catalog:
        return {}
    return {**(catalog.get("nodes") or {}), **(catalog.get("sources") or {})}


def upstream_relations(
    node: Mapping[str, Any], nodes: Mapping[str, Json], relations: Mapping[str, str]
) -> list[str]:
    """The tables a node reads: its dependencies, with ephemeral models replaced by theirs."""
    found: dict[str, None] = {}
    seen: set[str] = set()
    pending = list(reversed((node.get("depends_on") or {}).get("nodes") or []))
    while pending:
        uid = pending.pop()
        if uid in seen:
            continue
        seen.add(uid)
        if uid in relations:
            found[relations[uid]] = None
        elif uid in nodes and nodes[uid].get("resource_type") == "model":
            # An ephemeral model is inlined as a CTE: what it reads, the node reads.
            deps = (nodes[uid].get("depends_on") or {}).get("nodes") or []
            pending.extend(reversed(deps))
    return list(found)
