"""Airflow payloads to entities, without any I/O. The payloads are hand-written in the shapes of
Airflow's API (v2 unless said otherwise); the recorded cassettes check the real shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syncer.connectors.airflow.mapping import (
    Links,
    Naming,
    lineage_edges,
    schedule_of,
    table_fqn,
    to_pipeline,
    to_status,
)
from syncer.connectors.airflow.payloads import Asset, Dag, DagRun, Task, TaskInstance
from syncer.models import PipelineStatus

NAMING = Naming(service="airflow", links=Links("https://airflow.example.com", "v2"))
SALES = {"postgres://db.internal:5432/sales": "warehouse"}


def _dag(**fields: Any) -> Dag:
    return Dag.model_validate(
        {
            "dag_id": "sales_etl",
            "dag_display_name": "sales_etl",
            "description": "Loads orders",
            "owners": ["data-eng", "airflow"],
            "tags": [{"name": "etl", "dag_id": "sales_etl"}, {"name": "sales.eu"}],
            "last_parsed_time": "2026-01-02T03:04:05.123456Z",
            "max_active_tasks": 4,
            "timetable_summary": "0 3 * * *",
            **fields,
        }
    )


def _task(task_id: str, downstream: list[str], **fields: Any) -> Task:
    return Task.model_validate(
        {
            "task_id": task_id,
            "task_display_name": task_id,
            "owner": "data-eng",
            "start_date": "2024-01-01T00:00:00Z",
            "downstream_task_ids": downstream,
            "class_ref": {
                "module_path": "airflow.providers.standard.operators.bash",
                "class_name": "BashOperator",
            },
            "operator_name": "BashOperator",
            **fields,
        }
    )


def _run(**fields: Any) -> DagRun:
    return DagRun.model_validate(
        {
            "dag_run_id": "manual__2026-01-02T03:00:00+00:00",
            "dag_id": "sales_etl",
            "state": "failed",
            "start_date": "2026-01-02T03:00:01Z",
            "end_date": "2026-01-02T03:05:00Z",
            "logical_date": None,
            **fields,
        }
    )


def _ti(task_id: str, state: str | None, map_index: int = -1, **fields: Any) -> TaskInstance:
    return TaskInstance.model_validate(
        {
            "task_id": task_id,
            "dag_id": "sales_etl",
            "dag_run_id": "manual__2026-01-02T03:00:00+00:00",
            "map_index": map_index,
            "state": state,
            "start_date": "2026-01-02T03:01:00Z",
            "end_date": "2026-01-02T03:02:00Z",
            **fields,
        }
    )


# --- pipelines ---------------------------------------------------------------------------------


def test_a_dag_becomes_a_pipeline_with_its_tasks_and_their_downstream_tasks() -> None:
    tasks = [
        _task("extract", ["transform_orders", "transform_customers"]),
        _task("transform_orders", ["load"], class_ref={"class_name": "PythonOperator"}),
        _task("transform_customers", ["load"], class_ref={"class_name": "PythonOperator"}),
        _task("load", []),
    ]
    pipeline = to_pipeline(_dag(), tasks, NAMING)

    assert pipeline.fqn == "airflow.sales_etl"
    assert pipeline.description == "Loads orders"
    assert pipeline.schedule_interval == "0 3 * * *"
    assert pipeline.concurrency == 4
    assert pipeline.source_url == "https://airflow.example.com/dags/sales_etl"
    assert pipeline.updated_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert pipeline.start_date == datetime(2024, 1, 1, tzinfo=UTC)
    extract = next(t for t in pipeline.tasks if t.name == "extract")
    assert extract.downstream_tasks == ["transform_customers", "transform_orders"]
    assert extract.task_type == "BashOperator"
    assert extract.source_url == "https://airflow.example.com/dags/sales_etl/tasks/extract"
    assert {t.name: t.task_type for t in pipeline.tasks}["transform_orders"] == "PythonOperator"


def test_owners_are_user_references_and_airflows_placeholder_owner_is_left_out() -> None:
    pipeline = to_pipeline(_dag(owners=["data-eng", "airflow", "jane.doe"]), [], NAMING)
    assert {(o.type, o.fully_qualified_name) for o in pipeline.owners} == {
        ("user", "data-eng"),
        ("user", '"jane.doe"'),
    }


def test_a_task_owned_by_several_people_lists_each() -> None:
    pipeline = to_pipeline(_dag(), [_task("build", [], owner="analytics, alice")], NAMING)
    assert {o.fully_qualified_name for o in pipeline.tasks[0].owners} == {"alice", "analytics"}


def test_tags_go_under_the_configured_classification_with_dots_quoted() -> None:
    pipeline = to_pipeline(_dag(), [], NAMING)
    assert {t.tag_fqn for t in pipeline.tags} == {"AirflowTags.etl", 'AirflowTags."sales.eu"'}


def test_a_display_name_is_kept_only_when_it_differs_from_the_dag_id() -> None:
    assert to_pipeline(_dag(), [], NAMING).display_name is None
    assert to_pipeline(_dag(dag_display_name="Sales ETL"), [], NAMING).display_name == "Sales ETL"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"timetable_summary": "@daily"}, "@daily"),
        ({"timetable_summary": None}, None),
        ({"timetable_summary": "Asset"}, "Asset"),
        (  # Airflow 2 (API v1)
            {
                "timetable_summary": None,
                "schedule_interval": {"__type": "CronExpression", "value": "0 3 * * *"},
            },
            "0 3 * * *",
        ),
        (
            {
                "timetable_summary": None,
                "schedule_interval": {"__type": "TimeDelta", "days": 1, "seconds": 3600},
            },
            "1 day, 1:00:00",
        ),
        (
            {
                "timetable_summary": None,
                "schedule_interval": {"__type": "RelativeDelta", "months": 1},
                "timetable_description": "Every month",
            },
            "Every month",
        ),
    ],
)
def test_the_schedule_is_the_cron_expression_or_the_timetables_summary(
    fields: dict[str, Any], expected: str | None
) -> None:
    assert schedule_of(_dag(**fields)) == expected


def test_airflow_2_links_point_at_the_grid_view() -> None:
    naming = Naming(service="airflow", links=Links("http://af:8080", "v1"))
    pipeline = to_pipeline(_dag(), [_task("load", [])], naming)
    assert pipeline.source_url == "http://af:8080/dags/sales_etl/grid"
    assert pipeline.tasks[0].source_url == "http://af:8080/dags/sales_etl/grid?task_id=load"


# --- runs --------------------------------------------------------------------------------------


def test_a_finished_run_becomes_a_status_stamped_with_its_start_and_cursored_by_its_end() -> None:
    status = to_status(
        _run(),
        [_ti("extract", "success"), _ti("load", "failed"), _ti("publish", "upstream_failed")],
        NAMING,
    )
    assert isinstance(status, PipelineStatus)
    assert status.fqn == "airflow.sales_etl@1767322801000"
    assert status.execution_status == "Failed"
    assert status.end_time == 1767323100000
    assert {t.name: t.execution_status for t in status.task_status} == {
        "extract": "Successful",
        "load": "Failed",
        "publish": "Failed",
    }
    extract = next(t for t in status.task_status if t.name == "extract")
    assert (extract.start_time, extract.end_time) == (1767322860000, 1767322920000)
    assert extract.log_link == (
        "https://airflow.example.com/dags/sales_etl/runs/"
        "manual__2026-01-02T03%3A00%3A00%2B00%3A00/tasks/extract"
    )


def test_a_status_carries_when_its_run_ended_as_openmetadata_s_end_time() -> None:
    run = _run(state="success")
    status = to_status(run, [], NAMING)
    payload = status.model_dump(mode="json")
    assert payload["endTime"] == int(run.end_date.timestamp() * 1000)  # type: ignore[union-attr]
    assert PipelineStatus.model_validate(payload).fqn == status.fqn


def test_a_run_that_never_started_is_stamped_with_when_it_was_due() -> None:
    status = to_status(_run(start_date=None, run_after="2026-01-02T02:59:00Z"), [], NAMING)
    assert status.timestamp == 1767322740000


def test_a_mapped_task_is_one_status_as_bad_as_its_worst_instance() -> None:
    instances = [
        _ti("fetch", "success", 0, start_date="2026-01-02T03:01:00Z"),
        _ti("fetch", "running", 1, end_date=None),
        _ti("fetch", "skipped", 2, end_date="2026-01-02T03:03:00Z"),
    ]
    (fetch,) = to_status(_run(), instances, NAMING).task_status
    assert fetch.execution_status == "Pending"
    assert fetch.end_time == 1767322980000


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("success", "Successful"),
        ("failed", "Failed"),
        ("upstream_failed", "Failed"),
        ("skipped", "Skipped"),
        ("removed", "Skipped"),
        ("up_for_retry", "Pending"),
        (None, "Pending"),
    ],
)
def test_task_states_map_to_openmetadatas_four(state: str | None, expected: str) -> None:
    (task,) = to_status(_run(), [_ti("load", state)], NAMING).task_status
    assert task.execution_status == expected


def test_a_run_still_going_is_refused() -> None:
    with pytest.raises(ValueError, match="has not finished"):
        to_status(_run(state="running", end_date=None), [], NAMING)


# --- lineage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgres://db.internal:5432/sales/public/orders", "warehouse.sales.public.orders"),
        ("postgres://db.internal:5432/sales/public/a.b", 'warehouse.sales.public."a.b"'),
        ("postgres://db.internal:5432/sales2/public/orders", None),  # not under the prefix
        ("postgres://db.internal:5432/sales/orders", "warehouse.default.sales.orders"),
        ("postgres://db.internal:5432/sales", None),  # no table
        ("s3://lake/reports/summary.csv", None),
    ],
)
def test_an_asset_uri_under_a_configured_prefix_names_a_table(
    uri: str, expected: str | None
) -> None:
    assert table_fqn(uri, SALES) == expected


def test_the_longest_matching_prefix_decides_the_service() -> None:
    services = {"mysql://db": "mysql_all", "mysql://db/shop": "shop_service"}
    assert table_fqn("mysql://db/shop/orders", services) == "shop_service.default.shop.orders"
    assert table_fqn("mysql://db/crm/people", services) == "mysql_all.default.crm.people"


def test_a_bigquery_uri_takes_its_project_from_the_host() -> None:
    services = {"bigquery://acme-prod": "bq"}
    assert table_fqn("bigquery://acme-prod/sales/orders", services) == "bq.acme-prod.sales.orders"


def _asset(uri: str, producers: list[str], consumers: list[str], **fields: Any) -> Asset:
    return Asset.model_validate(
        {
            "uri": uri,
            "producing_tasks": [{"dag_id": d, "task_id": "t"} for d in producers],
            "scheduled_dags": [{"dag_id": d} for d in consumers],
            **fields,
        }
    )


def _ends(edges: list[Any]) -> list[tuple[str, str]]:
    return [(e.from_entity.fully_qualified_name, e.to_entity.fully_qualified_name) for e in edges]


def test_a_table_asset_links_its_producers_and_consumers_through_the_table() -> None:
    asset = _asset(
        "postgres://db.internal:5432/sales/public/orders_daily",
        ["sales_etl"],
        [],
        consuming_tasks=[{"dag_id": "warehouse_maintenance", "task_id": "check"}],
    )
    edges = lineage_edges([asset], lambda _: True, NAMING, SALES, dag_lineage=True)
    assert _ends(edges) == [
        ("airflow.sales_etl", "warehouse.sales.public.orders_daily"),
        ("warehouse.sales.public.orders_daily", "airflow.warehouse_maintenance"),
    ]
    assert {e.source for e in edges} == {"PipelineLineage"}
    assert [e.to_entity.type for e in edges] == ["table", "pipeline"]


def test_an_asset_that_is_no_table_links_producer_dags_to_consumer_dags() -> None:
    assets = [
        _asset("s3://lake/a.csv", ["sales_etl"], ["sales_report"]),
        _asset("s3://lake/b.csv", ["sales_etl"], ["sales_report", "sales_etl"]),
    ]
    (edge,) = lineage_edges(assets, lambda _: True, NAMING, SALES, dag_lineage=True)
    assert _ends([edge]) == [("airflow.sales_etl", "airflow.sales_report")]
    assert edge.description == "Airflow assets s3://lake/a.csv, s3://lake/b.csv"
    assert lineage_edges(assets, lambda _: True, NAMING, SALES, dag_lineage=False) == []


def test_airflow_2_datasets_link_the_dags_scheduled_on_them() -> None:
    dataset = Asset.model_validate(
        {
            "uri": "s3://lake/a.csv",
            "producing_tasks": [{"dag_id": "sales_etl", "task_id": "publish"}],
            "consuming_dags": [{"dag_id": "sales_report"}],
        }
    )
    edges = lineage_edges([dataset], lambda _: True, NAMING, {}, dag_lineage=True)
    assert _ends(edges) == [("airflow.sales_etl", "airflow.sales_report")]


def test_dags_the_config_leaves_out_get_no_lineage() -> None:
    asset = _asset("s3://lake/a.csv", ["sales_etl"], ["sales_report"])
    kept = {"sales_etl"}.__contains__
    assert lineage_edges([asset], kept, NAMING, SALES, dag_lineage=True) == []
