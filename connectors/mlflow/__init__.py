"""The mlflow source: registered models (and experiments) of an MLflow tracking server."""

from connectors.mlflow.config import MlflowConfig
from connectors.mlflow.source import MlflowSource

__all__ = ["MlflowConfig", "MlflowSource"]
