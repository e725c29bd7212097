"""The configuration describes itself: the workflow file's JSON Schema, and each step's keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from syncer import schema
from syncer.schema import STEP_KINDS, ConfigKey, config_keys, workflow_keys, workflow_schema

PUBLISHED = Path(schema.__file__).parent / "schemas" / "workflow.schema.json"
BUILT_IN = [
    (kind, entry.name)
    for kind in STEP_KINDS
    for entry in schema.installed_steps(kind, builtin=True)
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return workflow_schema(builtin=True)


@pytest.fixture(scope="module")
def validator(document: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(document)


def workflow(**overrides: Any) -> dict[str, Any]:
    """A small valid workflow file's content, with keys replaced."""
    return {
        "workflow": "shop",
        "source": {"type": "sql", "config": {"url": "sqlite:///shop.sqlite"}},
        "sinks": [{"type": "jsonl", "config": {"path": "out/changes.jsonl"}}],
        **overrides,
    }


def errors(validator: jsonschema.Draft202012Validator, data: dict[str, Any]) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


def sink(type_name: str, settings: dict[str, Any]) -> dict[str, Any]:
    return workflow(sinks=[{"type": type_name, "config": settings}])


def keys_of(kind: schema.StepKind, name: str) -> dict[str, ConfigKey]:
    return {key.name: key for key in config_keys(kind, name)}


def test_the_schema_is_a_valid_draft_2020_12_schema(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_each_step_list_is_one_branch_per_installed_step_chosen_by_its_type(
    document: dict[str, Any],
) -> None:
    where = {
        "sources": document["properties"]["source"],
        "processors": document["properties"]["processors"]["items"],
        "sinks": document["properties"]["sinks"]["items"],
    }
    for kind, branches in where.items():
        types = [b["properties"]["type"].get("const") for b in branches["oneOf"]]
        installed = sorted(name for k, name in BUILT_IN if k == kind)
        assert types == [*installed, None], kind  # None: a class of your own, module:Class


def test_a_workflow_with_known_steps_validates(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert errors(validator, workflow()) == []


def test_a_step_type_that_is_not_installed_does_not_validate(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert errors(validator, workflow(source={"type": "sqll", "config": {"url": "x"}}))


def test_a_step_of_your_own_named_module_and_class_validates_with_any_config(
    validator: jsonschema.Draft202012Validator,
) -> None:
    custom = {"type": "mypackage.steps:MySource", "config": {"anything": 1}}
    assert errors(validator, workflow(source=custom)) == []


def test_a_config_key_the_step_does_not_have_does_not_validate(
    validator: jsonschema.Draft202012Validator,
) -> None:
    settings = {"url": "sqlite:///shop.sqlite", "colour": "red"}
    assert errors(validator, workflow(source={"type": "sql", "config": settings}))


def test_a_value_of_the_wrong_type_does_not_validate(
    validator: jsonschema.Draft202012Validator,
) -> None:
    settings = {"url": "sqlite:///shop.sqlite", "concurrency": "many"}
    assert errors(validator, workflow(source={"type": "sql", "config": settings}))


def test_required_keys_are_required(
    validator: jsonschema.Draft202012Validator, document: dict[str, Any]
) -> None:
    assert set(document["required"]) == {"workflow", "source"}
    assert errors(validator, workflow(source={"type": "sql"}))  # its url is required
    assert errors(validator, workflow(source={"type": "sql", "config": {}}))
    url = keys_of("sources", "sql")["url"]
    assert (url.required, url.default) == (True, None)


def test_secret_fields_are_write_only_passwords(document: dict[str, Any]) -> None:
    defs = document["$defs"]
    marked = {
        ("OpenMetadataConfig", "token"),
        ("ClientCredentialsAuth", "client_secret"),
        ("WebhookConfig", "secret"),
        ("BasicAuthConfig", "password"),
        ("MqttConfig", "password"),
    }
    for model, field in marked:
        shown = defs[model]["properties"][field]
        assert (shown["writeOnly"], shown["format"]) == (True, "password"), (model, field)
    assert "writeOnly" not in defs["BasicAuthConfig"]["properties"]["username"]
    # The redact processor's `secrets:` is a block of settings, not a secret value.
    assert "writeOnly" not in defs["RedactConfig"]["properties"]["secrets"]


def test_secret_keys_are_marked_in_the_key_listing() -> None:
    keys = keys_of("sinks", "openmetadata")
    assert keys["token"].secret
    assert keys["auth.client_secret"].secret
    assert not keys["auth.client_id"].secret


def test_a_secret_reference_validates_where_a_number_a_url_or_a_long_text_is_expected(
    validator: jsonschema.Draft202012Validator,
) -> None:
    settings = {"url": "postgresql://u:${env:PGPASSWORD}@db/sales", "concurrency": "${env:N}"}
    assert errors(validator, workflow(source={"type": "sql", "config": settings})) == []
    hook = {"url": "${env:HOOK_URL}", "secret": "${env:S}", "timeout_seconds": "${env:T}"}
    assert errors(validator, sink("webhook", hook)) == []
    server = {"server": "${keyring:om/server}", "token": "${keyring:om/bot}"}
    assert errors(validator, sink("openmetadata", server)) == []


def test_a_credential_written_in_the_file_does_not_validate(
    validator: jsonschema.Draft202012Validator,
) -> None:
    server = {"server": "http://localhost:8585/api", "token": "eyJhbGciOi.literal.jwt"}
    assert errors(validator, sink("openmetadata", server))
    hook = {"url": "http://localhost:9000/hook", "secret": "a-literal-secret-of-some-length"}
    assert errors(validator, sink("webhook", hook))


def test_a_value_that_a_validator_widens_validates_as_a_run_takes_it(
    validator: jsonschema.Draft202012Validator,
) -> None:
    redact = {"type": "redact", "config": {"sql_literals": True, "secrets": False}}
    assert errors(validator, workflow(processors=[redact])) == []
    one_glob = {"url": "http://h/x", "secret": "${env:S}", "filter": {"fqn": "shop.*"}}
    assert errors(validator, sink("webhook", one_glob)) == []


@pytest.mark.parametrize(("kind", "name"), BUILT_IN, ids=[f"{k}/{n}" for k, n in BUILT_IN])
def test_every_key_of_a_built_in_step_is_described(kind: schema.StepKind, name: str) -> None:
    undescribed = [key.name for key in config_keys(kind, name) if not key.description]
    assert undescribed == [], f"{kind}/{name}: give these fields a docstring"


def test_every_key_of_the_workflow_file_is_described() -> None:
    undescribed = [key.name for key in workflow_keys() if not key.description]
    assert undescribed == [], "give these fields of syncer/config.py a docstring"


def test_defaults_are_shown_as_they_would_be_written_in_yaml() -> None:
    sql = keys_of("sources", "sql")
    assert sql["view_lineage"].default == "true"
    assert sql["include"].default == "{}"  # what writing no block, or {}, gives
    assert sql["include.tables"].default == "[]"
    assert sql["service_name"].default == "null"
    assert keys_of("sources", "airflow")["ignore_owners"].default == "[airflow]"
    assert keys_of("processors", "redact")["mask"].default == "'***'"


def test_key_types_read_as_people_say_them() -> None:
    sql = keys_of("sources", "sql")
    assert sql["include.tables"].type == "list of strings"
    assert sql["concurrency"].type == "integer"
    deletions = {key.name: key for key in workflow_keys()}["deletions.unverifiable"]
    assert deletions.type == "skip | delete"
    auth = keys_of("sources", "rest")["auth.type"]
    assert auth.type == "bearer | basic | api_key"
    assert auth.description.startswith("bearer: ")


def test_nested_lists_and_mappings_name_their_items() -> None:
    rest = keys_of("sources", "rest")
    assert "endpoints[].cursor.field" in rest
    assert "endpoints[].fields.*.path" in rest
    assert "services.*.type" in keys_of("sinks", "openmetadata")


def test_the_workflow_keys_list_the_steps_without_their_configs() -> None:
    names = [key.name for key in workflow_keys()]
    assert names[:4] == ["workflow", "source", "source.type", "source.config"]
    assert "sinks[].name" in names
    assert "state.path" in names


def test_the_published_schema_is_the_schema_of_the_built_in_steps(
    document: dict[str, Any],
) -> None:
    published = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    assert published == document, f"{PUBLISHED} is stale: run `make schema` and commit the result"
