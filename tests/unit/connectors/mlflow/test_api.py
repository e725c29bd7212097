"""What the mlflow source asks MLflow's REST API for: the experiments search's parameters and
its pages. An in-process stand-in for syncer's HTTP client answers with hand-written pages."""

from __future__ import annotations

from typing import Any

import orjson
import requests

from syncer.connectors.mlflow import MlflowConfig
from syncer.connectors.mlflow.api import MlflowApi


class FakeHttp:
    """Answers each request with the next page; every request's path and params are kept."""

    def __init__(self, *pages: dict[str, Any]) -> None:
        self.pages = list(pages)
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, path: str, *, params: dict[str, Any]) -> requests.Response:
        self.asked.append((path, dict(params)))
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response.url = f"http://mlflow:5000/{path}"
        response._content = orjson.dumps(self.pages.pop(0))
        return response

    def close(self) -> None:
        pass


def _api(http: FakeHttp) -> MlflowApi:
    api = MlflowApi(MlflowConfig.model_validate({"tracking_uri": "http://mlflow:5000"}))
    api._http = http  # type: ignore[assignment]
    return api


def _experiment(experiment_id: str, updated: int, **fields: Any) -> dict[str, Any]:
    name = f"e{experiment_id}"
    return {"experiment_id": experiment_id, "name": name, "last_update_time": updated, **fields}


def test_experiments_since_a_bound_send_it_as_a_last_update_time_filter() -> None:
    http = FakeHttp({"experiments": [_experiment("2", 1_767_322_800_500)]})
    (experiment,) = _api(http).experiments(50, 1_767_322_800_000)
    assert experiment.last_update_time == 1_767_322_800_500
    assert http.asked == [
        (
            "api/2.0/mlflow/experiments/search",
            {
                "max_results": 50,
                "order_by": "last_update_time DESC",
                "view_type": "ALL",
                "filter": "last_update_time >= 1767322800000",
            },
        )
    ]


def test_experiments_without_a_bound_are_all_asked_for_deleted_ones_too() -> None:
    http = FakeHttp({"experiments": [_experiment("1", 5, lifecycle_stage="deleted")]})
    (experiment,) = _api(http).experiments(50, None)
    assert experiment.lifecycle_stage == "deleted"
    (_, params) = http.asked[0]
    assert "filter" not in params and params["view_type"] == "ALL"


def test_experiment_pages_are_followed_by_token_keeping_the_filter() -> None:
    http = FakeHttp(
        {"experiments": [_experiment("3", 30), _experiment("2", 20)], "next_page_token": "t2"},
        {"experiments": [_experiment("1", 10)]},
    )
    ids = [e.experiment_id for e in _api(http).experiments(2, 10)]
    assert ids == ["3", "2", "1"]
    assert [params.get("page_token") for _, params in http.asked] == [None, "t2"]
    assert {params["filter"] for _, params in http.asked} == {"last_update_time >= 10"}
