"""How the mlflow source reads: where incremental reads stop, which version describes a model,
and what a failing request costs. A fake API stands in for the server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from syncer.connectors.mlflow import MlflowConfig, MlflowSource
from syncer.connectors.mlflow.api import Experiment, MLmodel, ModelVersion, RegisteredModel, Run
from syncer.connectors.mlflow.mapping import from_millis
from syncer.errors import SourceError
from syncer.http import BadResponse, Unavailable
from syncer.models import MlModel, MlModelService, Record
from syncer.steps import RecordError
from tests.support.sources import read_stream


class FakeApi:
    """Models newest first, in pages; every call is logged; `fail` makes a call raise."""

    def __init__(
        self,
        models: list[RegisteredModel],
        page_size: int = 2,
        experiments: list[Experiment] | None = None,
    ) -> None:
        self.models = sorted(models, key=lambda m: -m.last_updated_timestamp)
        self.experiment_list = experiments or [Experiment(experiment_id="1", name="churn")]
        self.page_size = page_size
        self.calls: list[tuple[str, ...]] = []
        self.fail: dict[tuple[str, ...], Exception] = {}
        self.closed = False

    def _call(self, *call: str) -> None:
        self.calls.append(call)
        if call in self.fail:
            raise self.fail[call]

    def registered_models(self, page_size: int) -> Iterator[RegisteredModel]:
        for start in range(0, len(self.models), self.page_size):
            self._call("page", str(start // self.page_size + 1))
            yield from self.models[start : start + self.page_size]

    def latest_version(self, name: str) -> ModelVersion | None:
        self._call("latest", name)
        return ModelVersion(name=name, version="3", run_id=f"run-{name}-3")

    def model_version(self, name: str, version: str) -> ModelVersion | None:
        self._call("version", name, version)
        return ModelVersion(name=name, version=version, run_id=f"run-{name}-{version}")

    def run(self, run_id: str) -> Run | None:
        self._call("run", run_id)
        return Run.model_validate({"info": {"run_id": run_id}, "data": {}})

    def mlmodel(self, name: str, version: str) -> MLmodel | None:
        self._call("mlmodel", name, version)
        return MLmodel(flavors={"python_function": {}, "sklearn": {}})

    def experiments(self, page_size: int, since: int | None) -> Iterator[Experiment]:
        """As MLflow filters them: updated at or after `since`, in pages."""
        found = [
            e
            for e in self.experiment_list
            if since is None or e.last_update_time is None or e.last_update_time >= since
        ]
        for start in range(0, max(len(found), 1), self.page_size):
            self._call("experiments", str(since), str(start // self.page_size + 1))
            yield from found[start : start + self.page_size]

    def probe(self, what: str) -> str:
        self._call("probe", what)
        return f"http://mlflow/api/2.0/mlflow/{what}/search"

    def close(self) -> None:
        self.closed = True


def _model(name: str, updated: int, **fields: Any) -> RegisteredModel:
    return RegisteredModel.model_validate(
        {"name": name, "last_updated_timestamp": updated, **fields}
    )


def _source(api: FakeApi, **config: Any) -> MlflowSource:
    return MlflowSource(
        MlflowConfig.model_validate({"tracking_uri": "http://mlflow:5000", **config}), api
    )


def _names(items: list[Any]) -> list[str]:
    return [i.name for i in items if isinstance(i, MlModel)]


def test_streams_are_the_service_and_models_with_a_datetime_cursor_and_lookback() -> None:
    streams = _source(FakeApi([]), lookback_seconds=30).streams()
    assert [(s.name, s.entity_type) for s in streams] == [
        ("services", "mlmodelService"),
        ("models", "mlmodel"),
    ]
    cursor = streams[1].cursor
    assert cursor is not None
    assert (cursor.field, cursor.kind, cursor.ordering) == ("updated_at", "datetime", "unsorted")
    assert cursor.lookback == timedelta(seconds=30)


def _experiment(experiment_id: str, updated: int, **fields: Any) -> Experiment:
    return Experiment.model_validate(
        {"experiment_id": experiment_id, "name": f"e{experiment_id}", **fields}
        | {"last_update_time": updated}
    )


def _ids(items: list[Any]) -> list[str]:
    return [i.id for i in items if isinstance(i, Record)]


def test_experiments_are_a_stream_of_records_only_when_asked_for() -> None:
    assert "experiments" not in [s.name for s in _source(FakeApi([])).streams()]
    source = _source(FakeApi([]), experiments=True)
    assert [s.name for s in source.streams()][-1] == "experiments"
    (record,) = read_stream(source, "experiments")
    assert isinstance(record, Record) and record.fqn == "mlflow/experiments.1"


def test_the_experiments_stream_has_the_last_update_as_its_cursor_with_the_lookback() -> None:
    stream = _source(FakeApi([]), experiments=True, lookback_seconds=30).streams()[-1]
    assert stream.cursor is not None
    cursor = stream.cursor
    # Newest first (page tokens are offsets): the watermark moves once the stream is read.
    assert (cursor.field, cursor.kind, cursor.ordering) == ("updated_at", "datetime", "unsorted")
    assert cursor.lookback == timedelta(seconds=30)


def test_a_full_experiments_read_asks_without_a_bound_and_stamps_each_record() -> None:
    api = FakeApi([], experiments=[_experiment("2", 200), _experiment("1", 100)])
    items = read_stream(_source(api, experiments=True), "experiments")
    assert _ids(items) == ["2", "1"]
    stamps = [i.updated_at for i in items if isinstance(i, Record)]
    assert stamps == [from_millis(200), from_millis(100)]
    assert {c[1] for c in api.calls if c[0] == "experiments"} == {"None"}


def test_an_incremental_experiments_read_sends_the_bound_to_mlflow_in_milliseconds() -> None:
    api = FakeApi([], experiments=[_experiment("3", 300), _experiment("2", 200)])
    api.experiment_list.append(_experiment("1", 100))
    items = read_stream(_source(api, experiments=True), "experiments", from_millis(200))
    assert _ids(items) == ["3", "2"]  # the bound is inclusive; MLflow left out "1"
    assert [c for c in api.calls if c[0] == "experiments"] == [("experiments", "200", "1")]


def test_a_deleted_experiment_is_read_as_a_record_marked_deleted() -> None:
    api = FakeApi([], experiments=[_experiment("4", 400, lifecycle_stage="deleted")])
    (record,) = read_stream(_source(api, experiments=True), "experiments", from_millis(300))
    assert isinstance(record, Record) and record.data["lifecycle_stage"] == "deleted"


def test_an_experiment_that_comes_again_on_the_next_page_is_read_once() -> None:
    api = FakeApi([], experiments=[_experiment("3", 300), _experiment("2", 200)])
    api.experiment_list += [_experiment("2", 200), _experiment("1", 100)]  # offsets moved
    items = read_stream(_source(api, experiments=True), "experiments")
    assert _ids(items) == ["3", "2", "1"]


def test_a_later_experiments_page_that_fails_is_an_error_of_the_stream() -> None:
    api = FakeApi([], experiments=[_experiment(str(i), i) for i in (3, 2, 1)])
    api.fail[("experiments", "None", "2")] = BadResponse("GET …/experiments/search: HTTP 500")
    items = read_stream(_source(api, experiments=True), "experiments")
    assert _ids(items) == ["3", "2"]
    assert isinstance(items[-1], RecordError) and items[-1].record == "experiments/search"


def test_the_service_is_named_by_the_config_and_typed_mlflow() -> None:
    (service,) = read_stream(_source(FakeApi([]), service_name="ml"), "services")
    assert isinstance(service, MlModelService)
    assert (service.name, service.service_type) == ("ml", "Mlflow")


def test_a_full_read_describes_every_model_by_its_latest_version() -> None:
    api = FakeApi([_model("a", 300), _model("b", 200), _model("c", 100)])
    items = read_stream(_source(api), "models")
    assert _names(items) == ["a", "b", "c"]
    assert ("latest", "b") in api.calls and ("run", "run-b-3") in api.calls
    assert ("page", "2") in api.calls


def test_an_incremental_read_stops_at_the_first_model_older_than_the_bound() -> None:
    api = FakeApi([_model("new", 300), _model("edge", 200), _model("old", 100), _model("x", 50)])
    items = read_stream(_source(api), "models", from_millis(200))
    assert _names(items) == ["new", "edge"]  # the bound is inclusive
    assert not [c for c in api.calls if "old" in c or "x" in c]
    assert ("page", "2") in api.calls  # where "old" was found
    assert api.calls.count(("page", "2")) == 1


def test_an_incremental_read_past_every_model_asks_for_one_page_only() -> None:
    api = FakeApi([_model("a", 300), _model("b", 200), _model("c", 100)])
    assert read_stream(_source(api), "models", from_millis(400)) == []
    assert api.calls == [("page", "1")]


def test_a_model_that_comes_again_on_the_next_page_is_read_once() -> None:
    api = FakeApi([_model("a", 300), _model("b", 200), _model("c", 100)])
    api.models.insert(2, api.models[1])  # offsets moved while the pages were read
    items = read_stream(_source(api), "models")
    assert _names(items) == ["a", "b", "c"]
    assert api.calls.count(("latest", "b")) == 1


def test_the_configured_alias_picks_the_version_and_a_model_without_it_the_latest() -> None:
    api = FakeApi(
        [_model("a", 300, aliases=[{"alias": "champion", "version": "1"}]), _model("b", 200)]
    )
    items = read_stream(_source(api, version_alias="champion"), "models")
    assert ("version", "a", "1") in api.calls and ("latest", "a") not in api.calls
    assert ("latest", "b") in api.calls
    hyper = {p.name: p.value for p in items[0].ml_hyper_parameters}  # type: ignore[union-attr]
    assert hyper["mlflow.version"] == "1"


def test_without_mlmodel_files_no_artifact_is_asked_for_and_the_algorithm_is_unknown() -> None:
    api = FakeApi([_model("a", 300)])
    (entity,) = read_stream(_source(api, mlmodel_files=False), "models")
    assert isinstance(entity, MlModel) and entity.algorithm == "unknown"
    assert [c for c in api.calls if c[0] == "mlmodel"] == []
    assert ("run", "run-a-3") in api.calls


def test_prompts_and_filtered_names_are_skipped_without_further_requests() -> None:
    prompt = _model("greeting", 300, tags=[{"key": "mlflow.prompt.is_prompt", "value": "true"}])
    api = FakeApi([prompt, _model("churn", 200), _model("tmp-churn", 100)])
    items = read_stream(_source(api, include=["churn"], exclude=["^tmp-"]), "models")
    assert _names(items) == ["churn"]
    assert not [c for c in api.calls if "greeting" in c or "tmp-churn" in c]


def test_a_model_whose_run_cannot_be_read_is_an_error_naming_it_and_the_rest_go_on() -> None:
    api = FakeApi([_model("a", 300), _model("b", 200)])
    api.fail[("run", "run-a-3")] = BadResponse("GET http://mlflow/api/2.0/mlflow/runs/get: …")
    error, entity = read_stream(_source(api), "models")
    assert isinstance(error, RecordError)
    assert error.record == "mlflow.a" and "runs/get" in error.reason
    assert isinstance(entity, MlModel) and entity.name == "b"


def test_a_first_page_that_fails_means_the_source_cannot_be_read() -> None:
    api = FakeApi([_model("a", 300)])
    api.fail[("page", "1")] = Unavailable("GET http://mlflow/api/2.0/mlflow/…: cannot connect")
    with pytest.raises(SourceError, match="cannot connect; check tracking_uri"):
        read_stream(_source(api), "models")


def test_a_later_page_that_fails_is_an_error_of_the_stream_after_the_models_read() -> None:
    api = FakeApi([_model("a", 300), _model("b", 200), _model("c", 100)])
    api.fail[("page", "2")] = BadResponse("GET http://mlflow/…/registered-models/search: …")
    items = read_stream(_source(api), "models")
    assert _names(items) == ["a", "b"]
    assert isinstance(items[-1], RecordError)
    assert items[-1].record == "registered-models/search"


def test_test_connection_lists_models_and_experiments_when_they_are_read() -> None:
    api = FakeApi([])
    report = _source(api, experiments=True).test_connection()
    assert report.ok
    assert [name for name, _, _ in report.checks] == ["list registered-models", "list experiments"]


def test_test_connection_fails_with_a_hint_when_the_server_refuses_the_credentials() -> None:
    api = FakeApi([])
    api.fail[("probe", "registered-models")] = BadResponse("GET http://mlflow/…: HTTP 401: no")
    report = _source(api).test_connection()
    assert not report.ok
    assert report.checks[0][2].endswith("check the auth block (username/password or token)")


def test_close_closes_the_api() -> None:
    api = FakeApi([])
    _source(api).close()
    assert api.closed
