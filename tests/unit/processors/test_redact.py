"""The redact processor removes or masks chosen fields, SQL literals and secrets before an entity
is stored or sent."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from syncer.models import (
    Column,
    EntityReference,
    LineageEdge,
    Pipeline,
    Table,
    Task,
    TestCaseResult,
)
from syncer.processors.redact import RedactConfig, RedactProcessor, redact_literals
from syncer.steps import RecordError

SCHEMA = "shop.shop.main"


def run(entity: Any, **config: Any) -> Any:
    return RedactProcessor(RedactConfig.model_validate(config)).process(entity)


def customers(**fields: Any) -> Table:
    columns = [
        Column(name="email", data_type="VARCHAR", description="Login, e.g. ann@example.com"),
        Column(name="id", data_type="INT", description="Surrogate key"),
    ]
    return Table(name="customers", database_schema=SCHEMA, columns=columns, **fields)


def edge(sql: str) -> LineageEdge:
    return LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name=f"{SCHEMA}.a"),
        to_entity=EntityReference(type="table", fully_qualified_name=f"{SCHEMA}.b"),
        sql_query=sql,
    )


# --- fields --------------------------------------------------------------------------------------


def test_a_removed_field_is_gone() -> None:
    result = run(
        customers(description="Our customers"), fields=[{"path": "description", "action": "remove"}]
    )
    assert result.description is None


def test_every_columns_description_can_be_masked() -> None:
    result = run(customers(), fields=[{"path": "columns.*.description"}])
    assert [c.description for c in result.columns] == ["***", "***"]


def test_the_mask_can_be_chosen_per_field_or_for_all() -> None:
    fields = [{"path": "columns.*.description", "mask": "[hidden]"}, {"path": "description"}]
    result = run(customers(description="x"), fields=fields, mask="<redacted>")
    assert result.columns[0].description == "[hidden]"
    assert result.description == "<redacted>"


def test_field_paths_use_the_serialized_names_and_accept_python_names() -> None:
    entity = customers(schema_definition="CREATE TABLE customers (email TEXT)")
    assert (
        run(entity, fields=[{"path": "schemaDefinition", "action": "remove"}]).schema_definition
        is None
    )
    assert (
        run(entity, fields=[{"path": "schema_definition", "action": "remove"}]).schema_definition
        is None
    )


def test_task_sql_is_reached_through_the_tasks_list() -> None:
    pipeline = Pipeline(
        name="nightly",
        service="airflow",
        tasks=[Task(name="load", task_sql="INSERT INTO t SELECT 1"), Task(name="noop")],
    )
    result = run(pipeline, fields=[{"path": "tasks.*.taskSql", "action": "remove"}])
    assert [t.task_sql for t in result.tasks] == [None, None]


def test_descriptions_at_any_depth_are_reached_with_a_double_star() -> None:
    result = run(customers(description="top"), fields=[{"path": "**.description"}])
    assert result.description == "***"
    assert {c.description for c in result.columns} == {"***"}


def test_a_path_an_entity_type_does_not_have_is_ignored() -> None:
    result_entity = TestCaseResult(
        test_case=f"{SCHEMA}.t.ok", timestamp=1, test_case_status="Success"
    )
    assert run(result_entity, fields=[{"path": "columns.*.description"}]) is result_entity


def test_an_entity_with_nothing_to_redact_comes_back_as_it_was() -> None:
    entity = Table(name="t", database_schema=SCHEMA)
    assert run(entity, fields=[{"path": "description"}]) is entity


def test_removing_a_field_the_entity_needs_is_that_entitys_error() -> None:
    result = run(customers(), fields=[{"path": "name", "action": "remove"}])
    assert result == RecordError(
        f"{SCHEMA}.customers",
        "redact left the table invalid (name: Field required): mask a text field instead, or do"
        " not remove a field the entity needs",
    )


def test_the_input_entity_is_not_changed() -> None:
    entity = customers(description="x")
    run(entity, fields=[{"path": "**.description", "action": "remove"}])
    assert entity.description == "x"
    assert entity.columns[0].description is not None


def test_a_misspelt_field_is_refused_with_a_suggestion() -> None:
    with pytest.raises(
        ValidationError,
        match=r"no entity has a field 'descripton' \(did you mean 'description'\?\)",
    ):
        RedactConfig.model_validate({"fields": [{"path": "columns.*.descripton"}]})


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValidationError, match="'remove' or 'mask'"):
        RedactConfig.model_validate({"fields": [{"path": "description", "action": "hash"}]})


# --- SQL literals --------------------------------------------------------------------------------


def test_string_and_number_literals_in_sql_become_placeholders() -> None:
    view = customers(
        schema_definition="CREATE VIEW vip AS SELECT * FROM customers"
        " WHERE email = 'ann@example.com' AND spend > 1000 -- Ann"
    )
    result = run(view, sql_literals=True)
    assert (
        result.schema_definition
        == "CREATE VIEW vip AS SELECT * FROM customers WHERE email = ? AND spend > ?"
    )


def test_sql_literals_are_left_alone_unless_asked() -> None:
    entity = edge("INSERT INTO b SELECT * FROM a WHERE x = 'keep'")
    assert run(entity, secrets=False) is entity


def test_type_lengths_are_not_values_and_stay() -> None:
    assert redact_literals("CREATE TABLE t (a VARCHAR(20) DEFAULT 'new')") == (
        "CREATE TABLE t (a VARCHAR(20) DEFAULT ?)"
    )


def test_the_placeholder_and_dialect_can_be_chosen() -> None:
    config = {"sql_literals": {"placeholder": "%s", "dialect": "postgres"}}
    result = run(edge("INSERT INTO b SELECT * FROM a WHERE x = $$dollar$$"), **config)
    assert result.sql_query == "INSERT INTO b SELECT * FROM a WHERE x = %s"


def test_sql_that_cannot_be_parsed_is_masked_whole_and_not_logged(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    result = run(edge("GRANT SELECT ON t TO bob IDENTIFIED BY 'hunter2'"), sql_literals=True)
    garbage = run(edge("SELEC * FROM ((( 'hunter2'"), sql_literals=True)
    assert result.sql_query == garbage.sql_query == "***"
    assert "hunter2" not in caplog.text + "".join(capsys.readouterr())


def test_sql_literals_reach_task_sql() -> None:
    pipeline = Pipeline(
        name="p", service="airflow", tasks=[Task(name="t", task_sql="DELETE FROM t WHERE id = 7")]
    )
    assert run(pipeline, sql_literals=True).tasks[0].task_sql == "DELETE FROM t WHERE id = ?"


def test_an_unknown_sql_dialect_is_refused() -> None:
    with pytest.raises(ValidationError, match="'postgress' is not a SQL dialect sqlglot knows"):
        RedactConfig.model_validate({"sql_literals": {"dialect": "postgress"}})


# --- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key AKIAIOSFODNN7EXAMPLE in use", "key *** in use"),
        ("connect with password=hunter2 then", "connect with password=*** then"),
        ("pwd: 'open sesame'; retry", "pwd: ***; retry"),
        ('{"client_secret": "s3cr3t"}', '{"client_secret": ***}'),
        ("send token=abc123&user=ann", "send token=***&user=ann"),
        ("header Authorization: Bearer abc.def-ghi_jkl", "header Authorization: Bearer ***"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF",
            "jwt ***",
        ),
        ("from postgresql://app:hunter2@db:5432/shop", "from postgresql://app:***@db:5432/shop"),
        ("api_key = 9fQx2LmZ7pR4tV8wK1sN", "api_key = ***"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- after",
            "*** after",
        ),
    ],
)
def test_secrets_in_descriptions_are_masked(text: str, expected: str) -> None:
    assert run(customers(description=text)).description == expected


@pytest.mark.parametrize(
    "text",
    [
        "The customer's password is never stored here.",
        "api_key = aaaaaaaaaaaaaaaaaaaa",  # not random: a placeholder, not a key
        "See https://docs.example.com/tables for details",
        "Tokens are counted per request",
    ],
)
def test_ordinary_text_is_not_taken_for_a_secret(text: str) -> None:
    assert run(customers(description=text)).description == text


def test_secrets_are_masked_in_column_descriptions_and_sql_too() -> None:
    entity = Table(
        name="t",
        database_schema=SCHEMA,
        columns=[Column(name="k", data_type="TEXT", description="old key AKIAIOSFODNN7EXAMPLE")],
        schema_definition="CREATE VIEW v AS SELECT 'password=hunter2' AS p",
    )
    result = run(entity)
    assert result.columns[0].description == "old key ***"
    assert "hunter2" not in (result.schema_definition or "")


def test_a_custom_secret_pattern_masks_only_its_secret_group() -> None:
    patterns = [{"name": "ticket", "pattern": r"ticket #(?P<secret>\d+)"}]
    result = run(customers(description="see ticket #4711"), secrets={"patterns": patterns})
    assert result.description == "see ticket #***"


def test_a_built_in_secret_pattern_can_be_disabled() -> None:
    text = "login: postgresql://app:hunter2@db/shop"
    assert (
        run(customers(description=text), secrets={"disable": ["url_password"]}).description == text
    )


def test_secret_masking_can_be_turned_off() -> None:
    entity = customers(description="password=hunter2")
    assert run(entity, secrets=False) is entity


def test_an_invalid_secret_pattern_is_refused_and_named() -> None:
    with pytest.raises(ValidationError, match=r"'\(\?P<secret' is not a valid regex"):
        RedactConfig.model_validate(
            {"secrets": {"patterns": [{"name": "x", "pattern": "(?P<secret"}]}}
        )


def test_disabling_an_unknown_secret_pattern_lists_the_built_in_ones() -> None:
    with pytest.raises(ValidationError, match="no built-in secret pattern 'jwts'; built-in are"):
        RedactConfig.model_validate({"secrets": {"disable": ["jwts"]}})
