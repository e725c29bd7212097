"""The rest source: any JSON API described in YAML (endpoints, pagination, cursors, mapping)."""

from connectors.rest.config import RestConfig
from connectors.rest.source import RestSource

__all__ = ["RestConfig", "RestSource"]
