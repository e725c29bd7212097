"""OpenLineage dataset names as the FQNs our other sources give the same tables: pure, no I/O.

OpenLineage names a dataset by a namespace (where it lives: `postgres://db.internal:5432`,
`mysql://db:3306`, `snowflake://org-account`, `bigquery`, `s3://bucket`) and a name inside it
(`database.schema.table`, MySQL's `database.table`, BigQuery's `project.dataset.table`, a path
for files). The namespace says nothing of the service name our sql source gave that server, so
the config maps each namespace to an FQN prefix: the service (`warehouse`), or service and
database where the name lacks that level (MySQL: the sql source's middle level is the URL's
database, and each MySQL database is a schema, so `sales.orders` is `shop.app.sales.orders`
under the prefix `shop.app`). The name's parts fill the rest of service.database.schema.table;
extra leading parts beyond what the table level needs stay in the table's name (a table called
`order.archive`), quoted by `syncer.fqn` as the sql source quotes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from syncer import fqn

# service, database, schema, table: the levels of a table's FQN.
TABLE_LEVELS = 4
# Namespaces whose dataset names are paths, split on "/", rather than dotted names.
PATH_SCHEMES = frozenset({"s3", "s3a", "s3n", "gs", "gcs", "hdfs", "file", "abfss", "wasbs"})


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A dataset that names no table we know, and why."""

    namespace: str
    name: str
    reason: str


def table_fqn(namespace: str, name: str, namespaces: dict[str, str]) -> str | Unresolved:
    """The FQN of the table an OpenLineage dataset names, or why there is none."""
    prefix = _prefix(namespace, namespaces)
    if prefix is None:
        return Unresolved(
            namespace,
            name,
            f"its namespace {namespace} is not mapped: add it to the source's namespaces with "
            "the service name our sql source gives that server, or set unknown_datasets: create",
        )
    lead = fqn.split(prefix)
    separator = "/" if scheme(namespace) in PATH_SCHEMES else "."
    parts = [p for p in name.split(separator) if p]
    needed = TABLE_LEVELS - len(lead)
    if needed < 1:
        return Unresolved(
            namespace, name, f"the prefix {prefix!r} of namespace {namespace} is a whole table"
        )
    if len(parts) < needed:
        return Unresolved(
            namespace,
            name,
            f"its name has {len(parts)} parts but the prefix {prefix!r} of namespace "
            f"{namespace} leaves {needed} to fill: map the namespace to a longer prefix "
            "(service.database for MySQL's database.table names)",
        )
    table = separator.join(parts[needed - 1 :])
    return fqn.build(*lead, *parts[: needed - 1], table)


def is_mapped(namespace: str, namespaces: dict[str, str]) -> bool:
    """Whether a `namespaces` entry names this namespace (spelled as `table_fqn` matches it)."""
    return _prefix(namespace, namespaces) is not None


def column_fqn(table: str, column: str) -> str:
    return fqn.join(table, column)


def _prefix(namespace: str, namespaces: dict[str, str]) -> str | None:
    """The prefix mapped to a namespace, compared without a trailing slash and with the
    scheme and host in lower case, as servers and clients spell them differently."""
    wanted = _normal(namespace)
    for key, prefix in namespaces.items():
        if _normal(key) == wanted:
            return prefix
    return None


def _normal(namespace: str) -> str:
    stripped = namespace.rstrip("/")
    if "://" not in stripped:
        return stripped.lower()
    parts = urlsplit(stripped)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def scheme(namespace: str) -> str:
    return namespace.split("://", 1)[0].lower() if "://" in namespace else ""
