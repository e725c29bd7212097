"""The sql source: any SQLAlchemy database, with fast catalog paths for SQLite and DuckDB."""

from connectors.sql.config import SqlConfig
from connectors.sql.source import SqlSource

__all__ = ["SqlConfig", "SqlSource"]
