"""The rest source: any JSON API described in YAML (endpoints, pagination, cursors, mapping)."""

from syncer.connectors.rest.config import RestConfig
from syncer.connectors.rest.source import RestSource

__all__ = ["RestConfig", "RestSource"]
