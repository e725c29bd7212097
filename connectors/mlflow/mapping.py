"""MLflow's answers as syncer entities: pure functions, no I/O.

One `mlmodel` per registered model, described by one of its versions (the latest, as
OpenMetadata's own MLflow connector does, or the one an alias names). OpenMetadata's MlModel
has no place for versions, stages, aliases, metrics or the artifact location, so they travel as
hyper-parameters whose names start with `mlflow.` (a prefix MLflow reserves for itself); the
run's own params keep their names and win a clash.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote

from syncer import fqn
from syncer.connectors.mlflow.api import (
    ColumnSpec,
    Experiment,
    KeyValue,
    MLmodel,
    ModelVersion,
    RegisteredModel,
    Run,
)
from syncer.models import (
    MlFeature,
    MlHyperParameter,
    MlModel,
    MlModelService,
    MlStore,
    Record,
    TagLabel,
)

SERVICE_TYPE = "Mlflow"  # OpenMetadata's MlModelService type
UNKNOWN_ALGORITHM = "unknown"  # a version without an MLmodel file names no flavor
PROMPT_TAG = "mlflow.prompt.is_prompt"  # MLflow 3 keeps prompts as registered models
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The flavor every Python model also has; the algorithm is the other one (sklearn, xgboost).
_GENERIC_FLAVOR = "python_function"
_CATEGORICAL = frozenset({"string", "boolean"})
_NUMERICAL = frozenset({"double", "float", "long", "integer"})
_NUMERIC_DTYPES = ("float", "int", "uint", "bool")


def from_millis(millis: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=millis)


def to_millis(moment: datetime) -> int:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def is_prompt(model: RegisteredModel) -> bool:
    return any(t.key == PROMPT_TAG and t.value.lower() == "true" for t in model.tags)


def service(name: str) -> MlModelService:
    return MlModelService(name=name, service_type=SERVICE_TYPE)


def mlmodel_fqn(service_name: str, model_name: str) -> str:
    return fqn.build(service_name, model_name)


def to_mlmodel(
    *,
    service_name: str,
    base_url: str,
    model: RegisteredModel,
    version: ModelVersion | None,
    run: Run | None,
    mlmodel: MLmodel | None,
    tag_classification: str | None,
) -> MlModel:
    """The registered model as OpenMetadata's MlModel, described by `version`."""
    signature = mlmodel.signature if mlmodel else None
    return MlModel(
        name=model.name,
        service=service_name,
        description=model.description or None,
        algorithm=algorithm(mlmodel),
        ml_features=features(signature.inputs if signature else []),
        target=target(signature.outputs if signature else []),
        ml_hyper_parameters=hyper_parameters(model, version, run),
        tags=tag_labels(tag_classification, model.tags, version.tags if version else []),
        server=base_url,
        ml_store=MlStore(storage=run.info.artifact_uri) if run and run.info.artifact_uri else None,
        source_url=f"{base_url}/#/models/{quote(model.name, safe='')}",
        updated_at=from_millis(model.last_updated_timestamp),
    )


def algorithm(mlmodel: MLmodel | None) -> str:
    """The model's flavor (sklearn, xgboost, pytorch…); `python_function` if it has no other."""
    if mlmodel is None or not mlmodel.flavors:
        return UNKNOWN_ALGORITHM
    specific = sorted(f for f in mlmodel.flavors if f != _GENERIC_FLAVOR)
    return specific[0] if specific else _GENERIC_FLAVOR


def features(inputs: Iterable[ColumnSpec]) -> list[MlFeature]:
    """The signature's named inputs, in its order (the order the model takes them); an
    unnamed tensor (a bare array) names no feature."""
    return [MlFeature(name=s.name, data_type=feature_type(s)) for s in inputs if s.name]


def feature_type(spec: ColumnSpec) -> Literal["numerical", "categorical"] | None:
    if spec.type in _CATEGORICAL:
        return "categorical"
    if spec.type in _NUMERICAL:
        return "numerical"
    dtype = str((spec.tensor_spec or {}).get("dtype", ""))
    if spec.type == "tensor" and dtype.startswith(_NUMERIC_DTYPES):
        return "numerical"
    return None  # datetime, binary, arrays, objects: OpenMetadata has no type for them


def target(outputs: list[ColumnSpec]) -> str | None:
    """What the model predicts, when its signature names a single output."""
    return outputs[0].name if len(outputs) == 1 else None


def hyper_parameters(
    model: RegisteredModel, version: ModelVersion | None, run: Run | None
) -> list[MlHyperParameter]:
    """The run's params, then what OpenMetadata has no field for, under `mlflow.` names."""
    found: dict[str, MlHyperParameter] = {}

    def add(name: str, value: str | None, description: str | None = None) -> None:
        found.setdefault(name, MlHyperParameter(name=name, value=value, description=description))

    for param in run.data.params if run else []:
        add(param.key, param.value)
    if version is not None:
        add("mlflow.version", version.version, version.description or None)
        if version.run_id:
            add("mlflow.run_id", version.run_id, "run that logged this version")
    for alias in model.aliases:
        add(f"mlflow.alias.{alias.alias}", alias.version, "version the alias points to")
    for latest in model.latest_versions:
        # Stages are deprecated since MLflow 2.9, but registries that use them still read them.
        if latest.current_stage and latest.current_stage != "None":
            add(f"mlflow.stage.{latest.current_stage}", latest.version, "latest version in stage")
    if run is not None:
        for metric in run.data.metrics:
            add(f"mlflow.metric.{metric.key}", repr(metric.value), "latest value in the run")
    return list(found.values())


def tag_labels(classification: str | None, *tag_lists: Iterable[KeyValue]) -> list[TagLabel]:
    """MLflow's key/value tags as labels `<classification>.<key>=<value>`; MLflow's own
    (`mlflow.*`) tags are bookkeeping, not labels."""
    if classification is None:
        return []
    names = {
        f"{t.key}={t.value}" if t.value else t.key
        for tags in tag_lists
        for t in tags
        if not t.key.startswith("mlflow.")
    }
    return [TagLabel(tag_fqn=fqn.build(classification, name)) for name in sorted(names)]


def to_record(service_name: str, base_url: str, experiment: Experiment) -> Record:
    """An experiment as a `record`: OpenMetadata has no experiment entity. Its last update is
    the cursor (volatile: a stamp alone is no change); a deleted one keeps its record, with
    `lifecycle_stage: deleted`."""
    updated = experiment.last_update_time
    return Record(
        endpoint=f"{service_name}/experiments",
        id=experiment.experiment_id,
        data={
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
            "creation_time": experiment.creation_time,
            "tags": {t.key: t.value for t in experiment.tags},
            "url": f"{base_url}/#/experiments/{quote(experiment.experiment_id, safe='')}",
        },
        updated_at=from_millis(updated) if updated is not None else None,
    )
