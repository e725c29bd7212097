"""The airflow source: DAGs, DAG runs and asset lineage through Airflow's REST API (v1, v2)."""

from syncer.connectors.airflow.config import AirflowConfig
from syncer.connectors.airflow.source import AirflowSource

__all__ = ["AirflowConfig", "AirflowSource"]
