"""syncer's Airflow provider: `SyncerRunOperator` runs one workflow as a task, and
`syncer_dags(folder)` builds one DAG per workflow file in a folder.

Airflow finds the provider through the `apache_airflow_provider` entry point, which calls
`get_provider_info()`: that function, like this module, imports nothing of Airflow, so that the
provider can describe itself (and a workflow's `airflow:` block validate) without it. The
operator and the factory are imported on first use; they need the `airflow` extra:
`pip install 'metadata-syncer[airflow]'`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syncer import DISTRIBUTION, __version__

if TYPE_CHECKING:
    from syncer.airflow.dags import syncer_dags
    from syncer.airflow.operators import SyncerRunOperator

__all__ = ["SyncerRunOperator", "get_provider_info", "syncer_dags"]

INTEGRATION = "syncer"
_LAZY = {
    "SyncerRunOperator": "syncer.airflow.operators",
    "syncer_dags": "syncer.airflow.dags",
}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads (airflow/provider_info.schema.json): the
    `package-name` must be the distribution's own name, or Airflow refuses the provider."""
    return {
        "package-name": DISTRIBUTION,
        "name": "syncer",
        "description": "Runs syncer workflows (metadata catalog syncs) as Airflow tasks, one DAG "
        "per workflow file.",
        "versions": [__version__],
        "integrations": [{"integration-name": INTEGRATION, "tags": ["software"]}],
        "operators": [
            {"integration-name": INTEGRATION, "python-modules": ["syncer.airflow.operators"]}
        ],
    }


def __getattr__(name: str) -> Any:
    # The operator and the factory import Airflow: only when asked for.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
