"""A small Airflow 3 behind the fake API: two DAGs joined by an asset, their runs and tasks.

The answers are hand-written in the shapes of Airflow's API v2, trimmed to what matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncer.connectors.airflow import AirflowConfig, AirflowSource
from tests.unit.connectors.airflow.fake_airflow import FakeAirflow, Reply, Seen

PARSED = "2026-01-02T03:00:00Z"


def dag(dag_id: str, parsed: str = PARSED, **fields: Any) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "dag_display_name": dag_id,
        "description": f"{dag_id} does things",
        "owners": ["data-eng"],
        "tags": [{"name": "etl", "dag_id": dag_id}],
        "last_parsed_time": parsed,
        "max_active_tasks": 16,
        "timetable_summary": "@daily",
        **fields,
    }


def task(task_id: str, downstream: list[str]) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "owner": "data-eng",
        "start_date": "2024-01-01T00:00:00Z",
        "downstream_task_ids": downstream,
        "class_ref": {"class_name": "BashOperator", "module_path": "x"},
    }


def run(dag_id: str, run_id: str, state: str, end: str) -> dict[str, Any]:
    return {
        "dag_run_id": run_id,
        "dag_id": dag_id,
        "state": state,
        "start_date": "2026-01-02T04:00:00Z",
        "end_date": end,
    }


def ti(dag_id: str, run_id: str, task_id: str, state: str) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "map_index": -1,
        "state": state,
        "start_date": "2026-01-02T04:00:01Z",
        "end_date": "2026-01-02T04:00:02Z",
    }


DAGS = [dag("etl"), dag("report", parsed="2026-01-01T00:00:00Z")]
TASKS = {
    "etl": [task("extract", ["load"]), task("load", [])],
    "report": [task("build", [])],
}
RUNS = [
    run("etl", "r1", "success", "2026-01-02T04:10:00Z"),
    run("report", "r1", "failed", "2026-01-02T04:20:00Z"),
]
INSTANCES = [
    ti("etl", "r1", "extract", "success"),
    ti("etl", "r1", "load", "success"),
    ti("report", "r1", "build", "failed"),
]
ASSETS = [
    {
        "uri": "s3://lake/summary.csv",
        "name": "summary",
        "producing_tasks": [{"dag_id": "etl", "task_id": "load"}],
        "scheduled_dags": [{"dag_id": "report"}],
        "consuming_tasks": [],
    }
]


def serve_airflow_3(airflow: FakeAirflow) -> None:
    airflow.route("GET", "/api/v2/version", Reply({"version": "3.1.0", "git_version": "x"}))
    airflow.paged("/api/v2/dags", "dags", DAGS)
    for dag_id, tasks in TASKS.items():
        body = {"tasks": tasks, "total_entries": len(tasks)}
        airflow.route("GET", f"/api/v2/dags/{dag_id}/tasks", Reply(body))
    airflow.paged("/api/v2/dags/~/dagRuns", "dag_runs", RUNS)
    airflow.paged("/api/v2/assets", "assets", ASSETS)

    def batch(seen: Seen) -> Reply:
        asked = seen.body
        found = [
            i
            for i in INSTANCES
            if i["dag_id"] in asked["dag_ids"] and i["dag_run_id"] in asked["dag_run_ids"]
        ]
        start = asked.get("page_offset", 0)
        page = found[start : start + asked["page_limit"]]
        return Reply({"task_instances": page, "total_entries": len(found)})

    airflow.route("POST", "/api/v2/dags/~/dagRuns/~/taskInstances/list", batch)


@pytest.fixture
def airflow() -> Iterator[FakeAirflow]:
    with FakeAirflow() as fake:
        serve_airflow_3(fake)
        yield fake


def source_for(airflow: FakeAirflow, **config: Any) -> AirflowSource:
    return AirflowSource(
        AirflowConfig.model_validate(
            {"host": airflow.url, "retry": {"attempts": 1}, "page_size": 100, **config}
        )
    )
