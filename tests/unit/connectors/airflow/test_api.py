"""Airflow's REST API as the source speaks it: version detection, paging, and errors that name
the URL. Against an in-process fake with hand-written answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncer.connectors.airflow.api import AirflowApi, AirflowApiError
from syncer.connectors.airflow.payloads import DagRun
from syncer.errors import SyncerError
from syncer.http import HttpClient, RetryPolicy
from tests.unit.connectors.airflow.fake_airflow import FakeAirflow, Reply


def _api(airflow: FakeAirflow, api_version: str = "auto", page_size: int = 100) -> AirflowApi:
    client = HttpClient(airflow.url, retry=RetryPolicy(attempts=1))
    return AirflowApi(client, api_version, page_size)  # type: ignore[arg-type]


def test_airflow_3_is_read_through_api_v2(airflow: FakeAirflow) -> None:
    dialect = _api(airflow).dialect
    assert (dialect.api, dialect.airflow_version) == ("v2", "3.1.0")


def test_airflow_2_is_found_on_api_v1_when_v2_does_not_exist() -> None:
    with FakeAirflow() as airflow:
        airflow.route("GET", "/api/v1/version", Reply({"version": "2.10.5"}))
        dialect = _api(airflow).dialect
    assert (dialect.api, dialect.airflow_version) == ("v1", "2.10.5")


def test_a_server_with_neither_api_is_named_with_what_to_check() -> None:
    with FakeAirflow() as airflow, pytest.raises(AirflowApiError) as caught:
        _api(airflow).dialect  # noqa: B018
    message = str(caught.value)
    assert airflow.url in message
    assert "/api/v2/version nor /api/v1/version" in message
    assert "check that host is the Airflow webserver" in message


def test_an_unknown_airflow_version_on_an_api_is_refused_naming_the_url() -> None:
    with FakeAirflow() as airflow, pytest.raises(AirflowApiError) as caught:
        airflow.route("GET", "/api/v2/version", Reply({"version": "4.0.0"}))
        _api(airflow).dialect  # noqa: B018
    assert str(caught.value).startswith(f"GET {airflow.url}/api/v2/version: Airflow 4.0.0")
    assert "reads for Airflow 3 only" in str(caught.value)


def test_a_version_answer_without_a_version_is_an_unexpected_schema() -> None:
    with FakeAirflow() as airflow, pytest.raises(AirflowApiError, match="version: Field required"):
        airflow.route("GET", "/api/v2/version", Reply({"release": "3.1.0"}))
        _api(airflow).dialect  # noqa: B018


def test_a_list_is_read_page_by_page_until_its_total(airflow: FakeAirflow) -> None:
    airflow.paged("/api/v2/dags", "dags", [{"dag_id": f"d{i}"} for i in range(5)])
    dags = [item["dag_id"] for _, item in _api(airflow, page_size=2).dags()]
    assert dags == ["d0", "d1", "d2", "d3", "d4"]
    assert [r.query["offset"] for r in airflow.seen("/api/v2/dags")] == [["0"], ["2"], ["4"]]


def test_finished_runs_are_asked_for_by_end_date_from_the_watermark_on(
    airflow: FakeAirflow,
) -> None:
    since = datetime(2026, 1, 2, 4, 15, tzinfo=UTC)
    list(_api(airflow).finished_runs(since))
    (seen,) = airflow.seen("/api/v2/dags/~/dagRuns")
    assert seen.query["end_date_gte"] == ["2026-01-02T04:15:00+00:00"]
    assert seen.query["state"] == ["success", "failed"]
    assert seen.query["order_by"] == ["end_date", "id"]


def test_task_instances_of_many_runs_come_in_one_batch_query_per_page(
    airflow: FakeAirflow,
) -> None:
    runs = [
        DagRun(dag_run_id="r1", dag_id="etl"),
        DagRun(dag_run_id="r1", dag_id="report"),
    ]
    found = _api(airflow, page_size=2).task_instances(runs)
    assert sorted(ti.task_id for ti in found["etl", "r1"]) == ["extract", "load"]
    assert [ti.task_id for ti in found["report", "r1"]] == ["build"]
    bodies = [r.body for r in airflow.seen("/api/v2/dags/~/dagRuns/~/taskInstances/list")]
    assert [b["page_offset"] for b in bodies] == [0, 2]
    assert bodies[0]["dag_ids"] == ["etl", "report"]


def test_airflow_2_task_instances_are_read_run_by_run_with_the_run_id_escaped() -> None:
    with FakeAirflow() as airflow:
        airflow.route("GET", "/api/v1/version", Reply({"version": "2.10.5"}))
        path = "/api/v1/dags/etl/dagRuns/manual__2026-01-02T03:00:00+00:00/taskInstances"
        airflow.paged(path, "task_instances", [])
        run = DagRun(dag_run_id="manual__2026-01-02T03:00:00+00:00", dag_id="etl")
        assert _api(airflow).task_instances([run]) == {("etl", run.dag_run_id): []}
        (seen,) = [r for r in airflow.requests if "taskInstances" in r.path]
    assert seen.raw_path.endswith("manual__2026-01-02T03%3A00%3A00%2B00%3A00/taskInstances")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply({"detail": "Not authenticated"}, status=401), "HTTP 401 (Not authenticated); check"),
        (Reply({"detail": "Forbidden"}, status=403), "needs at least Airflow's Viewer role"),
        (
            Reply(raw=b"<html>Sign in</html>", content_type="text/html"),
            "answered text/html, not JSON (HTTP 200)",
        ),
        (Reply(raw=b'{"dags": [{"dag_id": "a"', status=200), "broken or truncated JSON"),
        (Reply({"items": []}), "the answer has no 'dags' list"),
        (Reply(raw=b"<h1>Internal Server Error</h1>", status=500), "HTTP 500 after 1 attempts"),
        (
            Reply({"detail": [{"loc": ["query", "limit"], "msg": "too big"}]}, status=422),
            "HTTP 422 (query.limit: too big)",
        ),
    ],
)
def test_a_bad_answer_is_one_line_naming_the_url(
    airflow: FakeAirflow, reply: Reply, expected: str
) -> None:
    airflow.route("GET", "/api/v2/dags", reply)
    with pytest.raises(SyncerError) as caught:
        list(_api(airflow).dags())
    message = str(caught.value)
    assert f"GET {airflow.url}/api/v2/dags" in message
    assert expected in message
    assert "\n" not in message
    assert "offset" not in message  # the query is not repeated
