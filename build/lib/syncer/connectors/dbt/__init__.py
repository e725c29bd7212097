"""The dbt source: tables, lineage, tests and test results from a dbt project's artifacts."""

from syncer.connectors.dbt.config import DbtConfig
from syncer.connectors.dbt.source import DbtSource

__all__ = ["DbtConfig", "DbtSource"]
