"""What MLflow's answers become: pure mapping, no server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syncer.connectors.mlflow import mapping
from syncer.connectors.mlflow.api import (
    ColumnSpec,
    Experiment,
    MLmodel,
    ModelVersion,
    RegisteredModel,
    Run,
)
from syncer.fingerprint import fingerprint

SIGNATURE = {
    "inputs": [
        {"type": "long", "name": "tenure_months"},
        {"type": "double", "name": "monthly_charges"},
        {"type": "string", "name": "contract_type"},
        {"type": "boolean", "name": "is_foreign"},
        {"type": "datetime", "name": "signed_up"},
    ],
    "outputs": [{"type": "long", "name": "churned"}],
}


def _model(**fields: Any) -> RegisteredModel:
    return RegisteredModel.model_validate(
        {"name": "churn", "last_updated_timestamp": 1_700_000_000_123, **fields}
    )


def _version(**fields: Any) -> ModelVersion:
    return ModelVersion.model_validate({"name": "churn", "version": "2", **fields})


def _run(params: dict[str, str], metrics: dict[str, Any]) -> Run:
    return Run.model_validate(
        {
            "info": {"run_id": "r1", "artifact_uri": "s3://bucket/1/r1/artifacts"},
            "data": {
                "params": [{"key": k, "value": v} for k, v in params.items()],
                "metrics": [{"key": k, "value": v, "step": 0} for k, v in metrics.items()],
            },
        }
    )


def _mlmodel(flavors: dict[str, Any], signature: dict[str, Any] | None = None) -> MLmodel:
    return MLmodel.model_validate({"flavors": flavors, "signature": signature})


def _hyper(entity: Any) -> dict[str, tuple[str | None, str | None]]:
    return {p.name: (p.value, p.description) for p in entity}


def test_a_registered_model_becomes_an_mlmodel_of_its_service_with_links_and_cursor() -> None:
    entity = mapping.to_mlmodel(
        service_name="mlflow",
        base_url="https://mlflow.example.com",
        model=_model(name="fraud scorer", description="Scores card payments."),
        version=_version(run_id="r1"),
        run=_run({"n_estimators": "50"}, {}),
        mlmodel=_mlmodel({"python_function": {}, "sklearn": {}}, SIGNATURE),
        tag_classification="MLflow",
    )
    assert entity.fqn == "mlflow.fraud scorer"
    assert entity.description == "Scores card payments."
    assert entity.algorithm == "sklearn"
    assert entity.server == "https://mlflow.example.com"
    assert entity.source_url == "https://mlflow.example.com/#/models/fraud%20scorer"
    assert entity.updated_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert entity.target == "churned"


def test_signature_inputs_become_features_typed_as_openmetadata_can() -> None:
    mlmodel = _mlmodel({"sklearn": {}}, SIGNATURE)
    assert mlmodel.signature is not None
    typed = {f.name: f.data_type for f in mapping.features(mlmodel.signature.inputs)}
    assert typed == {
        "tenure_months": "numerical",
        "monthly_charges": "numerical",
        "contract_type": "categorical",
        "is_foreign": "categorical",
        "signed_up": None,  # OpenMetadata has no type for dates
    }


def test_features_keep_the_signatures_input_order_the_same_on_every_run() -> None:
    def entity() -> Any:
        return mapping.to_mlmodel(
            service_name="mlflow",
            base_url="https://mlflow.example.com",
            model=_model(),
            version=_version(),
            run=None,
            mlmodel=_mlmodel({"sklearn": {}}, SIGNATURE),
            tag_classification=None,
        )

    first = entity()
    # The order the model takes its inputs in, not sorted by name or type.
    assert [f.name for f in first.ml_features] == [
        "tenure_months",
        "monthly_charges",
        "contract_type",
        "is_foreign",
        "signed_up",
    ]
    assert first.model_dump(mode="json")["mlFeatures"][0]["name"] == "tenure_months"
    assert fingerprint(entity()) == fingerprint(first)


def test_a_bare_array_signature_names_no_feature_and_no_target() -> None:
    tensor = ColumnSpec.model_validate(
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}
    )
    assert mapping.features([tensor]) == []
    assert mapping.target([tensor]) is None


def test_a_named_numeric_tensor_is_a_numerical_feature() -> None:
    tensor = ColumnSpec.model_validate(
        {"type": "tensor", "name": "pixels", "tensor-spec": {"dtype": "uint8", "shape": [-1]}}
    )
    assert [(f.name, f.data_type) for f in mapping.features([tensor])] == [("pixels", "numerical")]


def test_several_outputs_name_no_single_target() -> None:
    outputs = [ColumnSpec(type="double", name="p10"), ColumnSpec(type="double", name="p90")]
    assert mapping.target(outputs) is None


@pytest.mark.parametrize(
    ("flavors", "algorithm"),
    [
        ({"python_function": {}, "sklearn": {}}, "sklearn"),
        ({"python_function": {}, "xgboost": {}}, "xgboost"),
        ({"python_function": {}}, "python_function"),
        ({}, "unknown"),
    ],
)
def test_the_algorithm_is_the_models_own_flavor(flavors: dict[str, Any], algorithm: str) -> None:
    assert mapping.algorithm(_mlmodel(flavors)) == algorithm


def test_a_version_without_an_mlmodel_file_has_an_unknown_algorithm() -> None:
    assert mapping.algorithm(None) == "unknown"


def test_run_params_stay_as_they_are_and_registry_facts_get_mlflow_names() -> None:
    model = _model(
        aliases=[{"alias": "champion", "version": "2"}, {"alias": "challenger", "version": "3"}],
        latest_versions=[
            {"name": "churn", "version": "3", "current_stage": "None"},
            {"name": "churn", "version": "2", "current_stage": "Production"},
        ],
    )
    version = _version(run_id="r1", description="Random forest.")
    run = _run({"max_depth": "6", "model_type": "random_forest"}, {"accuracy": 0.96})
    found = _hyper(mapping.hyper_parameters(model, version, run))
    assert found["max_depth"] == ("6", None)
    assert found["model_type"] == ("random_forest", None)
    assert found["mlflow.version"] == ("2", "Random forest.")
    assert found["mlflow.run_id"][0] == "r1"
    assert found["mlflow.alias.champion"][0] == "2"
    assert found["mlflow.alias.challenger"][0] == "3"
    assert found["mlflow.stage.Production"][0] == "2"
    assert "mlflow.stage.None" not in found
    assert found["mlflow.metric.accuracy"][0] == "0.96"
    assert "mlflow.artifact_uri" not in found  # it is the model's mlStore.storage


def test_a_run_param_wins_over_a_registry_fact_of_the_same_name() -> None:
    run = _run({"mlflow.version": "mine"}, {})
    found = _hyper(mapping.hyper_parameters(_model(), _version(), run))
    assert found["mlflow.version"] == ("mine", None)


def test_a_nan_metric_is_kept_as_text() -> None:
    found = _hyper(mapping.hyper_parameters(_model(), None, _run({}, {"loss": "NaN"})))
    assert found["mlflow.metric.loss"][0] == "nan"


def test_a_model_without_versions_is_still_described() -> None:
    entity = mapping.to_mlmodel(
        service_name="mlflow",
        base_url="http://mlflow:5000",
        model=_model(),
        version=None,
        run=None,
        mlmodel=None,
        tag_classification=None,
    )
    assert entity.algorithm == "unknown"
    assert entity.ml_features == [] and entity.ml_hyper_parameters == [] and entity.tags == []


def test_tags_become_labels_of_the_classification_but_mlflows_own_do_not() -> None:
    model = _model(
        tags=[
            {"key": "team", "value": "growth"},
            {"key": "pii", "value": ""},
            {"key": "mlflow.prompt.is_prompt", "value": "false"},
        ]
    )
    version = _version(tags=[{"key": "validated", "value": "v1.2"}])
    labels = [t.tag_fqn for t in mapping.tag_labels("MLflow", model.tags, version.tags)]
    assert labels == ["MLflow.pii", "MLflow.team=growth", 'MLflow."validated=v1.2"']


def test_no_classification_means_no_labels() -> None:
    assert mapping.tag_labels(None, _model(tags=[{"key": "team", "value": "x"}]).tags) == []


def test_prompts_are_told_apart_from_models() -> None:
    assert mapping.is_prompt(_model(tags=[{"key": "mlflow.prompt.is_prompt", "value": "true"}]))
    assert not mapping.is_prompt(_model(tags=[{"key": "team", "value": "growth"}]))


def test_millisecond_timestamps_round_trip_through_datetimes() -> None:
    moment = mapping.from_millis(1_795_495_914_308)
    assert mapping.to_millis(moment) == 1_795_495_914_308
    assert mapping.to_millis(datetime(2023, 11, 14, 22, 13, 20, 123999)) == 1_700_000_000_123


def test_an_experiment_becomes_a_record_under_the_service() -> None:
    experiment = Experiment.model_validate(
        {
            "experiment_id": "1",
            "name": "churn",
            "artifact_location": "mlflow-artifacts:/1",
            "lifecycle_stage": "active",
            "creation_time": 1,
            "last_update_time": 2,
            "tags": [{"key": "team", "value": "growth"}],
        }
    )
    record = mapping.to_record("mlflow", "http://mlflow:5000", experiment)
    assert record.fqn == "mlflow/experiments.1"
    assert record.data["name"] == "churn"
    assert record.data["tags"] == {"team": "growth"}
    assert record.data["url"] == "http://mlflow:5000/#/experiments/1"
    # The last update is the cursor, a volatile field: a stamp alone is no change.
    assert record.updated_at == mapping.from_millis(2)
    assert "last_update_time" not in record.data


def test_a_deleted_experiment_is_a_record_marked_deleted() -> None:
    experiment = Experiment(experiment_id="4", name="scratch", lifecycle_stage="deleted")
    record = mapping.to_record("mlflow", "http://mlflow:5000", experiment)
    assert record.data["lifecycle_stage"] == "deleted"
    assert record.updated_at is None  # an answer without a last update has no cursor value
