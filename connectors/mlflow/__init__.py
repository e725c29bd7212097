"""The mlflow source: registered models (and experiments) of an MLflow tracking server."""

from syncer.connectors.mlflow.config import MlflowConfig
from syncer.connectors.mlflow.source import MlflowSource

__all__ = ["MlflowConfig", "MlflowSource"]
