"""The sql source: any SQLAlchemy database, with fast catalog paths for SQLite and DuckDB."""

from syncer.connectors.sql.config import SqlConfig
from syncer.connectors.sql.source import SqlSource

__all__ = ["SqlConfig", "SqlSource"]
