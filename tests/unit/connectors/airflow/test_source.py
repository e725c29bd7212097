"""The airflow source's streams over a fake Airflow 3: what each yields, what a watermark saves,
and how one unreadable DAG stays an error instead of a gap that could look like a deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from syncer.connectors.airflow import AirflowSource
from syncer.models import Entity, LineageEdge, Pipeline, PipelineStatus
from syncer.steps import CursorValue, RecordError
from tests.support.sources import read_stream
from tests.unit.connectors.airflow.conftest import source_for
from tests.unit.connectors.airflow.fake_airflow import FakeAirflow, Reply


def _read(source: AirflowSource, name: str, since: CursorValue | None = None) -> list[Any]:
    return read_stream(source, name, since)


def _keys(items: list[Entity | RecordError]) -> list[str]:
    return [i.record if isinstance(i, RecordError) else i.fqn for i in items]


def test_the_streams_are_the_service_pipelines_their_runs_and_asset_lineage(
    airflow: FakeAirflow,
) -> None:
    source = source_for(airflow)
    assert [(s.name, s.entity_type) for s in source.streams()] == [
        ("services", "pipelineService"),
        ("pipelines", "pipeline"),
        ("pipeline_statuses", "pipelineStatus"),
        ("lineage", "lineage"),
    ]
    (service,) = _read(source, "services")
    assert (service.fqn, service.service_type) == ("airflow", "Airflow")
    assert _keys(_read(source, "pipelines")) == ["airflow.etl", "airflow.report"]
    statuses = _read(source, "pipeline_statuses")
    assert all(isinstance(s, PipelineStatus) for s in statuses)
    assert [s.pipeline for s in statuses] == ["airflow.etl", "airflow.report"]
    (edge,) = _read(source, "lineage")
    assert isinstance(edge, LineageEdge)
    assert edge.fqn == "airflow.etl->airflow.report"


def test_dags_not_parsed_since_the_watermark_are_not_asked_for_their_tasks(
    airflow: FakeAirflow,
) -> None:
    source = source_for(airflow)
    since = datetime(2026, 1, 2, tzinfo=UTC)  # etl was parsed after, report before
    assert _keys(_read(source, "pipelines", since)) == ["airflow.etl"]
    assert airflow.seen("/api/v2/dags/report/tasks") == []


def test_runs_are_asked_for_from_the_watermark_in_milliseconds_on(airflow: FakeAirflow) -> None:
    _read(source_for(airflow), "pipeline_statuses", 1767326400000)
    (seen,) = airflow.seen("/api/v2/dags/~/dagRuns")
    assert seen.query["end_date_gte"] == ["2026-01-02T04:00:00+00:00"]


def test_a_dag_whose_tasks_cannot_be_read_is_an_error_and_so_are_its_runs_and_edges(
    airflow: FakeAirflow,
) -> None:
    airflow.route("GET", "/api/v2/dags/etl/tasks", Reply({"detail": "boom"}, status=500))
    source = source_for(airflow)

    pipelines = _read(source, "pipelines")
    assert _keys(pipelines) == ["airflow.etl", "airflow.report"]
    error, report = pipelines
    assert isinstance(error, RecordError) and isinstance(report, Pipeline)
    assert error.reason.startswith(f"GET {airflow.url}/api/v2/dags/etl/tasks: HTTP 500")

    statuses = _read(source, "pipeline_statuses")
    assert isinstance(statuses[0], RecordError)
    assert statuses[0].record == "dag run r1 of etl"
    assert isinstance(statuses[1], PipelineStatus)
    (edge,) = _read(source, "lineage")
    assert isinstance(edge, RecordError)
    assert edge.reason == "its DAG etl could not be read"


def test_a_dag_the_api_describes_wrongly_is_an_error_naming_the_field(
    airflow: FakeAirflow,
) -> None:
    dags = [{"dag_id": "etl", "owners": "not-a-list"}]
    airflow.paged("/api/v2/dags", "dags", dags)
    (error,) = _read(source_for(airflow), "pipelines")
    assert isinstance(error, RecordError)
    assert error.record == "airflow.etl"
    assert "unexpected dag: owners: Input should be a valid list" in error.reason


def test_excluded_dags_are_left_out_with_their_runs_and_lineage(airflow: FakeAirflow) -> None:
    source = source_for(airflow, exclude={"dags": ["^report$"]})
    assert _keys(_read(source, "pipelines")) == ["airflow.etl"]
    assert _keys(_read(source, "pipeline_statuses")) == ["airflow.etl@1767326400000"]
    assert _read(source, "lineage") == []


def test_an_asset_list_that_cannot_be_read_is_an_error_not_an_empty_lineage(
    airflow: FakeAirflow,
) -> None:
    airflow.route("GET", "/api/v2/assets", Reply({"detail": "Forbidden"}, status=403))
    (error,) = _read(source_for(airflow), "lineage")
    assert isinstance(error, RecordError)
    assert error.record == "assets"
    assert "needs at least Airflow's Viewer role" in error.reason


def test_test_connection_lists_the_version_and_what_each_list_holds(airflow: FakeAirflow) -> None:
    report = source_for(airflow).test_connection()
    assert report.ok
    assert report.checks == [
        ("version", True, "Airflow 3.1.0, REST API v2"),
        ("dags", True, "2 readable"),
        ("dag runs", True, "2 readable"),
        ("assets", True, "1 readable"),
    ]


def test_test_connection_fails_on_a_list_it_cannot_read(airflow: FakeAirflow) -> None:
    airflow.route("GET", "/api/v2/dags/~/dagRuns", Reply({"detail": "Forbidden"}, status=403))
    report = source_for(airflow).test_connection()
    assert not report.ok
    assert [(name, ok) for name, ok, _ in report.checks] == [
        ("version", True),
        ("dags", True),
        ("dag runs", False),
        ("assets", True),
    ]


def test_test_connection_to_something_that_is_not_airflow_stops_at_the_version() -> None:
    with FakeAirflow() as nothing:
        report = source_for(nothing).test_connection()
    assert not report.ok
    ((name, ok, detail),) = report.checks
    assert (name, ok) == ("version", False)
    assert "neither /api/v2/version nor /api/v1/version exists" in detail


def test_airflow_2_is_read_through_api_v1_with_its_datasets_and_grid_links() -> None:
    """Hand-written answers in the shapes of Airflow 2.10's API v1."""
    with FakeAirflow() as airflow:
        airflow.route("GET", "/api/v1/version", Reply({"version": "2.10.5"}))
        dag = {
            "dag_id": "etl",
            "owners": ["data-eng"],
            "tags": [{"name": "etl"}],
            "last_parsed_time": "2026-01-02T03:00:00+00:00",
            "schedule_interval": {"__type": "CronExpression", "value": "0 3 * * *"},
            "timetable_description": "At 03:00",
        }
        airflow.paged("/api/v1/dags", "dags", [dag, {**dag, "dag_id": "report"}])
        for dag_id in ("etl", "report"):
            tasks = {"tasks": [{"task_id": "load", "class_ref": {"class_name": "BashOperator"}}]}
            airflow.route("GET", f"/api/v1/dags/{dag_id}/tasks", Reply(tasks))
        run = {
            "dag_run_id": "scheduled__2026-01-02T03:00:00+00:00",
            "dag_id": "etl",
            "state": "success",
            "execution_date": "2026-01-02T03:00:00+00:00",
            "logical_date": "2026-01-02T03:00:00+00:00",
            "start_date": "2026-01-02T04:00:00+00:00",
            "end_date": "2026-01-02T04:10:00+00:00",
        }
        airflow.paged("/api/v1/dags/~/dagRuns", "dag_runs", [run])
        instances = [{**run, "task_id": "load", "map_index": -1, "state": "success"}]
        path = f"/api/v1/dags/etl/dagRuns/{run['dag_run_id']}/taskInstances"
        airflow.paged(path, "task_instances", instances)
        dataset = {
            "uri": "s3://lake/summary.csv",
            "producing_tasks": [{"dag_id": "etl", "task_id": "load"}],
            "consuming_dags": [{"dag_id": "report"}],
        }
        airflow.paged("/api/v1/datasets", "datasets", [dataset])
        source = source_for(airflow)

        pipeline, _ = _read(source, "pipelines")
        (status,) = _read(source, "pipeline_statuses")
        (edge,) = _read(source, "lineage")
        runs_query = airflow.seen("/api/v1/dags/~/dagRuns")[0].query

    assert pipeline.schedule_interval == "0 3 * * *"
    assert pipeline.source_url == f"{airflow.url}/dags/etl/grid"
    assert runs_query["order_by"] == ["end_date"]
    assert status.execution_status == "Successful"
    assert status.task_status[0].log_link.endswith(
        "/dags/etl/grid?dag_run_id=scheduled__2026-01-02T03%3A00%3A00%2B00%3A00"
        "&task_id=load&tab=logs"
    )
    assert edge.fqn == "airflow.etl->airflow.report"
