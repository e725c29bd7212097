"""The airflow source against a real Airflow 3, replayed: `scripts/record_airflow.py` recorded a
first sync (and its immediate re-run), `test-connection`, and a sync after a DAG changed and
ran again. A corrupted copy of a recording stands for a server that answers badly.

Re-record with `make cassettes`, or `.venv/bin/python scripts/record_airflow.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import yaml

from syncer import config as configs
from syncer.workflow import RunResult
from tests.contract.cases.airflow import (
    FIRST_SYNC,
    INCREMENTAL_SYNC,
    TEST_CONNECTION,
    recorded_source,
    replaying,
)
from tests.support.runs import query_state, run_workflow

LOOKBACK_MS = 5 * 60 * 1000
DAG_RUNS = "/api/v2/dags/~/dagRuns"
TABLE_EDGES = {
    ("airflow.sales_etl", "warehouse.sales.public.orders_daily"),
    ("warehouse.sales.public.orders", "airflow.sales_etl"),
    ("warehouse.sales.public.orders_daily", "airflow.warehouse_maintenance"),
    ("airflow.sales_etl", "airflow.sales_report"),
}


class Synced:
    """A workflow over the recorded source, with its own state file."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state = tmp / "state.duckdb"
        self.config = tmp / "workflow.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "workflow": "airflow",
                    "source": recorded_source(),
                    "sinks": [{"type": "duckdb"}],
                    "state": {"path": str(self.state)},
                }
            )
        )

    def run(self) -> RunResult:
        return run_workflow(self.config, self.state)

    def entities(self, entity_type: str) -> dict[str, dict[str, Any]]:
        rows = query_state(
            self.state,
            "SELECT fqn, payload::VARCHAR FROM current_entities WHERE entity_type = ?",
            [entity_type],
        )
        return {fqn: orjson.loads(payload) for fqn, payload in rows}

    def live(self) -> set[tuple[str, str]]:
        return set(query_state(self.state, "SELECT entity_type, fqn FROM current_entities"))

    def watermark(self, stream: str) -> str:
        rows = query_state(self.state, "SELECT value FROM watermarks WHERE stream = ?", [stream])
        return str(rows[0][0])

    def first_sync_and_rerun(self) -> None:
        with replaying(FIRST_SYNC):
            for _ in range(2):
                result = self.run()
                assert result.status == "succeeded", result.error


@pytest.fixture
def synced(tmp_path: Path) -> Synced:
    return Synced(tmp_path)


def test_a_first_sync_makes_each_dag_a_pipeline_with_its_tasks_owners_tags_and_schedule(
    synced: Synced,
) -> None:
    with replaying(FIRST_SYNC):
        result = synced.run()
    assert result.status == "succeeded", result.error
    pipelines = synced.entities("pipeline")
    assert set(pipelines) == {
        "airflow.sales_etl",
        "airflow.sales_report",
        "airflow.warehouse_maintenance",
    }

    etl = pipelines["airflow.sales_etl"]
    assert etl["description"] == "Loads yesterday's orders into the warehouse"
    assert etl["scheduleInterval"] == "0 3 * * *"
    assert etl["sourceUrl"] == "https://airflow.example.com/dags/sales_etl"
    assert [o["fullyQualifiedName"] for o in etl["owners"]] == ["data-eng"]
    assert {t["tagFQN"] for t in etl["tags"]} == {"AirflowTags.etl", "AirflowTags.sales"}
    assert etl["concurrency"] == 4
    tasks = {t["name"]: t for t in etl["tasks"]}
    assert set(tasks) == {"extract", "transform_orders", "transform_customers", "load", "publish"}
    assert tasks["extract"]["downstreamTasks"] == ["transform_customers", "transform_orders"]
    assert tasks["transform_orders"]["downstreamTasks"] == ["load"]
    assert tasks["transform_orders"]["taskType"] == "PythonOperator"
    assert tasks["load"]["taskType"] == "BashOperator"

    report = pipelines["airflow.sales_report"]
    assert report["scheduleInterval"] == "Asset"
    assert {o["fullyQualifiedName"] for o in report["owners"]} == {"alice", "analytics"}
    assert pipelines["airflow.warehouse_maintenance"].get("scheduleInterval") is None


def test_a_first_sync_makes_each_finished_run_a_status_with_its_tasks(synced: Synced) -> None:
    with replaying(FIRST_SYNC):
        synced.run()
    statuses = list(synced.entities("pipelineStatus").values())
    by_pipeline = {s["pipeline"]: s for s in statuses}
    assert set(by_pipeline) == {
        "airflow.sales_etl",
        "airflow.sales_report",
        "airflow.warehouse_maintenance",
    }
    maintenance = by_pipeline["airflow.warehouse_maintenance"]
    assert maintenance["executionStatus"] == "Failed"
    tasks = {t["name"]: t["executionStatus"] for t in maintenance["taskStatus"]}
    assert tasks == {"check": "Successful", "vacuum": "Failed", "report": "Failed"}
    check = next(t for t in maintenance["taskStatus"] if t["name"] == "check")
    assert check["logLink"].startswith("https://airflow.example.com/dags/warehouse_maintenance/")
    etl_runs = [s for s in statuses if s["pipeline"] == "airflow.sales_etl"]
    assert {s["executionStatus"] for s in etl_runs} == {"Successful"}
    assert all(len(s["taskStatus"]) == 5 for s in etl_runs)


def test_assets_make_lineage_through_the_tables_they_name_and_between_dags(
    synced: Synced,
) -> None:
    with replaying(FIRST_SYNC):
        result = synced.run()
    edges = query_state(synced.state, "SELECT from_fqn, to_fqn, source FROM lineage_edges")
    assert {(a, b) for a, b, _ in edges} == TABLE_EDGES
    assert {source for _, _, source in edges} == {"PipelineLineage"}
    # The tables belong to the database's own workflow; this one says it never saw them.
    assert any("warehouse.sales.public.orders" in w for w in result.warnings)


def test_an_incremental_sync_asks_only_for_runs_ended_since_the_watermark_and_changed_dags(
    synced: Synced,
) -> None:
    synced.first_sync_and_rerun()
    watermark = int(synced.watermark("pipeline_statuses"))
    with replaying(INCREMENTAL_SYNC) as cassette:
        result = synced.run()
    assert result.status == "succeeded", result.error
    assert cassette.all_played

    paths = [urlsplit(r.uri).path for r in cassette.requests]
    runs_queries = [parse_qs(urlsplit(r.uri).query) for r in cassette.requests]
    bound = datetime.fromtimestamp((watermark - LOOKBACK_MS) / 1000, UTC).isoformat()
    asked = {
        q["end_date_gte"][0] for p, q in zip(paths, runs_queries, strict=True) if p == DAG_RUNS
    }
    assert asked == {bound}
    # Only DAGs parsed since the last sync are read again (here sales_report, which changed,
    # and the one parsed last before that sync, at the inclusive bound).
    tasks_read = [p for p in paths if p.endswith("/tasks")]
    assert "/api/v2/dags/sales_report/tasks" in tasks_read
    assert len(tasks_read) < 3

    streams = result.streams
    assert streams["pipeline_statuses"].created == 2  # sales_etl ran, and so sales_report
    assert streams["pipelines"].updated == 1
    changed = query_state(
        synced.state,
        "SELECT fqn, changed_fields FROM change_log WHERE run_id = 3 AND kind = 'updated'",
    )
    assert changed == [("airflow.sales_report", ["description", "tags", "updatedAt"])]
    report = synced.entities("pipeline")["airflow.sales_report"]
    assert report["description"] == "Builds the daily sales report and mails it to sales"
    assert {t["tagFQN"] for t in report["tags"]} == {"AirflowTags.reporting", "AirflowTags.daily"}


def test_test_connection_reports_the_version_and_what_can_be_read(synced: Synced) -> None:
    with replaying(TEST_CONNECTION):
        report = configs.load(synced.config).source.test_connection()
    assert report.ok
    checks = {name: (ok, detail) for name, ok, detail in report.checks}
    assert checks["version"] == (True, "Airflow 3.3.2, REST API v2")
    assert checks["dags"] == (True, "3 readable")
    assert checks["assets"] == (True, "3 readable")
    assert checks["dag runs"][0] is True
    assert checks["dag runs"][1].endswith(" readable")


# --- a server that answers badly ---------------------------------------------------------------

Change = Callable[[dict[str, Any]], None]


def _corrupted(tmp: Path, path: str, change: Change, source: Path = INCREMENTAL_SYNC) -> Path:
    """A copy of a recording whose first answer to GET `path` is changed."""
    cassette = yaml.safe_load(source.read_text())
    interaction = next(
        i
        for i in cassette["interactions"]
        if i["request"]["method"] == "GET" and urlsplit(i["request"]["uri"]).path == path
    )
    change(interaction["response"])
    copy = tmp / f"corrupted-{source.name}"
    copy.write_text(yaml.safe_dump(cassette))
    return copy


def _server_error_page(response: dict[str, Any]) -> None:
    response["status"] = {"code": 500, "message": "Internal Server Error"}
    response["headers"] = {"content-type": ["text/html"]}
    response["body"] = {"string": "<html><h1>500 Internal Server Error</h1></html>"}


def _truncated(response: dict[str, Any]) -> None:
    response["body"]["string"] = response["body"]["string"][:150]


def _airflow_4(response: dict[str, Any]) -> None:
    response["body"]["string"] = '{"version": "4.0.0", "git_version": null}'


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        (
            "/api/v2/dags",
            _truncated,
            "GET http://airflow.invalid:8080/api/v2/dags: broken or truncated JSON",
        ),
        (
            DAG_RUNS,
            _server_error_page,
            "GET http://airflow.invalid:8080/api/v2/dags/~/dagRuns: HTTP 500 after 1 attempts",
        ),
        (
            "/api/v2/version",
            _airflow_4,
            "GET http://airflow.invalid:8080/api/v2/version: Airflow 4.0.0 answers on API v2",
        ),
    ],
    ids=["truncated-dag-list", "500-page-for-runs", "unexpected-version"],
)
def test_a_bad_answer_fails_the_run_on_one_line_naming_the_url_and_loses_nothing(
    synced: Synced, tmp_path: Path, path: str, change: Change, expected: str
) -> None:
    synced.first_sync_and_rerun()
    before = synced.live()
    runs_mark = synced.watermark("pipeline_statuses")

    with replaying(_corrupted(tmp_path, path, change)):
        result = synced.run()

    assert result.status == "failed"
    assert result.error is not None and result.error.startswith(expected), result.error
    assert "\n" not in result.error
    assert result.counters.deleted == 0
    assert synced.live() == before
    # The runs not read are asked for again next time (streams read before may have moved on).
    assert synced.watermark("pipeline_statuses") == runs_mark


def test_an_unreadable_asset_list_fails_the_lineage_stream_only_and_deletes_no_edge(
    synced: Synced, tmp_path: Path
) -> None:
    synced.first_sync_and_rerun()
    edges = synced.entities("lineage")

    with replaying(_corrupted(tmp_path, "/api/v2/assets", _server_error_page)):
        result = synced.run()

    assert result.status == "partial"
    assert result.streams["lineage"].errors == 1
    assert result.streams["pipeline_statuses"].created == 2  # the rest of the run went on
    assert synced.entities("lineage") == edges
