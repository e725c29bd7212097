"""Which databases, schemas and tables the sql source keeps.

The config's include/exclude patterns are searched in plain names (not FQNs); on a server, its
catalog schemas are never kept whatever the patterns say: they describe the server, not data.
"""

from __future__ import annotations

from syncer.connectors.sql.config import SqlConfig
from syncer.connectors.sql.reflect import FILE_DIALECTS

# Catalog schemas of the servers the generic path reads.
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)


class Scope:
    """The config's name filters, compiled once per source."""

    def __init__(self, config: SqlConfig, dialect: str) -> None:
        self._databases = config.names("databases")
        self._schemas = config.names("schemas")
        self._tables = config.names("tables")
        # A file database has no catalog schemas: a schema of it named `sys` is data.
        self._server = dialect not in FILE_DIALECTS

    def keeps_database(self, name: str) -> bool:
        return self._databases.keeps(name)

    def keeps_schema(self, name: str) -> bool:
        system = self._server and name.lower() in SYSTEM_SCHEMAS
        return not system and self._schemas.keeps(name)

    def keeps_table(self, name: str) -> bool:
        return self._tables.keeps(name)

    def schemas(self, names: list[str] | None) -> list[str]:
        """The kept ones of a database's schemas, in their order."""
        return [s for s in names or [] if self.keeps_schema(s)]
