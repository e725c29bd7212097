"""`syncer_dags(folder)`: one Airflow DAG per workflow file, for a DAG file to publish.

    # dags/syncer_workflows.py: Airflow parses only files that mention "airflow" and "dag"
    from syncer.airflow import syncer_dags

    globals().update(syncer_dags("/opt/syncer/workflows", state_dir="/mnt/syncer-state"))

Each DAG is named after its workflow and holds one `SyncerRunOperator` task, `sync`. Its
schedule, tags, owner, retries, retry delay, pool and run mode come from the workflow file's
`airflow:` block (`syncer.airflow.spec`); its pool, unless the block names one, is its source
server's (`syncer.airflow.pools`). One run of a workflow at a time (`max_active_runs=1`): a
state file has one writer, and an overlapping run would only find it locked.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import DAG

from syncer.airflow.operators import SyncerRunOperator
from syncer.airflow.pools import pool_name
from syncer.airflow.spec import AirflowSpec
from syncer.airflow.workflows import OnError, WorkflowFile, find_workflows

TASK_ID = "sync"
# A fixed start in the past, with no catch-up: a sync reads the present, never an interval.
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def syncer_dags(
    folder: str | os.PathLike[str],
    *,
    state_dir: str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
) -> dict[str, DAG]:
    """The DAGs of the workflow files under `folder`, by DAG id. With `state_dir`, each
    workflow's state file is `STATE_DIR/WORKFLOW.duckdb` (a volume every worker mounts);
    without it, the `state.path` of its file. `on_error="skip"` logs a broken workflow file
    and builds the others' DAGs; by default it fails the whole DAG file, naming the file."""
    states = None if state_dir is None else Path(state_dir)
    workflows = find_workflows(Path(folder), on_error=on_error)
    return {found.spec.workflow: _dag(found, states) for found in workflows}


def _dag(found: WorkflowFile, state_dir: Path | None) -> DAG:
    spec = found.spec
    schedule = spec.airflow or AirflowSpec()
    state = None if state_dir is None else state_dir / f"{spec.workflow}.duckdb"
    with DAG(
        dag_id=spec.workflow,
        description=f"syncer run {found.path}",
        schedule=schedule.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=sorted({"syncer", *schedule.tags}),
        default_args={
            "owner": schedule.owner,
            "retries": schedule.retries,
            "retry_delay": schedule.retry_delay,
        },
    ) as dag:
        SyncerRunOperator(
            task_id=TASK_ID,
            config=found.path,
            state=state,
            mode=schedule.mode,
            pool=pool_name(spec),
        )
    return dag
