"""The mapping language: expressions, templates and records made entities, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syncer.connectors.rest.expressions import Expression, ExpressionError, MissingValue, Template
from syncer.connectors.rest.mapping import EntityMapper, FieldSpec, MappingError
from syncer.models import MlModel, Pipeline, Record

MODEL = {
    "name": "churn",
    "description": "Predicts churn",
    "tags": [{"key": "algorithm", "value": "xgboost"}, {"key": "team", "value": "growth"}],
    "last_updated_timestamp": 1714557600000,
    "id": 42,
}


def _mlmodel(**fields: Any) -> EntityMapper:
    base: dict[str, Any] = {"name": "name", "algorithm": {"value": "unknown"}}
    return EntityMapper("models", "mlmodel", {**base, **fields}, None, service="mlflow")


def test_an_expression_reads_the_record_and_a_parent_prefix_reads_the_parent() -> None:
    assert Expression("$.name").search(MODEL) == "churn"
    assert Expression("tags[?key=='team'].value | [0]").search(MODEL) == "growth"
    assert Expression("parent.id").search(MODEL, {"id": 7}) == 7


def test_a_template_fills_placeholders_and_keeps_doubled_braces() -> None:
    template = Template("/models/{parent.name}/runs/{id}?q={{raw}}")
    assert (
        template.render({"id": 3}, {"name": "a b"}, url_quote=True)
        == "/models/a%20b/runs/3?q={raw}"
    )
    with pytest.raises(MissingValue):
        template.render({}, {"name": "a"})


@pytest.mark.parametrize("text", ["a.[", "name{", "{}"])
def test_a_broken_expression_or_template_names_itself(text: str) -> None:
    with pytest.raises(ExpressionError, match=r"JMESPath|brace"):
        Template(text) if "{" in text else Expression(text)


def test_a_record_becomes_an_entity_with_paths_constants_defaults_and_templates() -> None:
    mapper = _mlmodel(
        description="description",
        algorithm={"path": "tags[?key=='algorithm'].value | [0]", "default": "unknown"},
        target={"path": "tags[?key=='target'].value | [0]", "default": "none"},
        sourceUrl={"template": "https://ml.example.com/models/{name}"},
    )
    cursor = datetime(2024, 5, 1, 10, tzinfo=UTC)
    entity = mapper.map(MODEL, cursor=cursor)
    assert entity == MlModel(
        name="churn",
        service="mlflow",
        description="Predicts churn",
        algorithm="xgboost",
        target="none",
        source_url="https://ml.example.com/models/churn",
        updated_at=cursor,
    )
    assert entity.fqn == "mlflow.churn"


def test_a_numeric_id_mapped_to_a_text_field_becomes_text() -> None:
    assert _mlmodel(name="id").map(MODEL).name == "42"  # type: ignore[attr-defined]


def test_nested_objects_map_through_a_projection() -> None:
    mapper = EntityMapper(
        "jobs",
        "pipeline",
        {"name": "name", "tasks": "steps[].{name: name, downstreamTasks: next}"},
        None,
        service="jobs",
    )
    job = {"name": "nightly", "steps": [{"name": "load", "next": ["report"]}, {"name": "report"}]}
    pipeline = mapper.map(job)
    assert isinstance(pipeline, Pipeline)
    assert [(t.name, t.downstream_tasks) for t in pipeline.tasks] == [
        ("load", ["report"]),
        ("report", []),
    ]


def test_a_value_of_the_wrong_shape_names_the_field_and_where_it_came_from() -> None:
    mapper = _mlmodel(description="tags")
    with pytest.raises(MappingError, match=r"field description: .*\(mapped from `tags`\)"):
        mapper.map(MODEL)


def test_a_generic_record_keeps_the_whole_record_under_its_primary_key() -> None:
    mapper = EntityMapper("models", "record", None, ["parent.name", "id"])
    record = mapper.map({"id": 1, "x": {"y": 2}}, {"name": "churn"})
    expected = Record(endpoint="models", id="churn/1", data={"id": 1, "x": {"y": 2}})
    assert record.model_dump() == expected.model_dump()
    assert record.fqn == "models.churn/1"


def test_a_generic_record_with_fields_keeps_only_those() -> None:
    mapper = EntityMapper(
        "v",
        "record",
        {"version": "version", "at": FieldSpec(path="ts", format="epoch_s")},
        ["version"],
    )
    record = mapper.map({"version": "3", "ts": 0, "noise": True})
    assert isinstance(record, Record)
    assert record.data == {"version": "3", "at": datetime(1970, 1, 1, tzinfo=UTC)}


def test_a_record_without_its_primary_key_is_that_records_error() -> None:
    mapper = EntityMapper("v", "record", None, ["id"])
    with pytest.raises(MappingError, match="primary key `id` is missing"):
        mapper.map({"name": "x"})
    assert mapper.label({"name": "x"}, None, 4) == "#4"


@pytest.mark.parametrize(
    ("entity", "fields", "key", "service", "says"),
    [
        ("mlmodle", {}, None, "s", "is not an entity type"),
        (
            "mlmodel",
            {"name": "n", "algorithm": "a", "descripton": "d"},
            None,
            "s",
            "mlmodel has no field 'descripton'",
        ),
        ("mlmodel", {"name": "n"}, None, "s", "needs field(s) algorithm"),
        ("mlmodel", {"name": "n", "algorithm": "a"}, None, None, "add a `service:` block"),
        ("record", None, None, None, "needs primary_key"),
        (
            "mlmodel",
            {"name": "n", "algorithm": "a"},
            ["id"],
            "s",
            "primary_key is for entity record",
        ),
    ],
)
def test_a_mapping_that_cannot_fit_its_entity_type_is_refused_up_front(
    entity: str,
    fields: dict[str, str] | None,
    key: list[str] | None,
    service: str | None,
    says: str,
) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        EntityMapper("e", entity, fields, key, service=service)
