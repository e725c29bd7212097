"""The airflow source: DAGs, DAG runs and asset lineage through Airflow's REST API (v1, v2)."""

from connectors.airflow.config import AirflowConfig
from connectors.airflow.source import AirflowSource

__all__ = ["AirflowConfig", "AirflowSource"]
