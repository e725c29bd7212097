"""Entities have OpenMetadata's shapes, keys and FQNs, whatever their names contain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from syncer.fingerprint import canonical
from syncer.models import (
    ENTITY_TYPES,
    Column,
    Database,
    DatabaseSchema,
    DatabaseService,
    EntityReference,
    LineageEdge,
    MlModel,
    Pipeline,
    Table,
    TestCase,
    TestCaseResult,
    entity_link,
)


def test_fqns_nest_and_quote_names_with_dots() -> None:
    assert DatabaseService(name="my.svc", service_type="Mysql").fqn == '"my.svc"'
    database = Database(name="shop", service="my.svc")
    assert database.fqn == '"my.svc".shop'
    schema = DatabaseSchema(name="sales.eu", database=database.fqn)
    assert schema.fqn == '"my.svc".shop."sales.eu"'
    table = Table(name="orders", database_schema=schema.fqn)
    assert table.fqn == '"my.svc".shop."sales.eu".orders'
    assert table.key == table.fqn
    assert table.parent_fqn == schema.fqn


def test_every_entity_type_is_registered_with_its_parent_type() -> None:
    assert ENTITY_TYPES["table"] is Table
    assert Table.parent_type == "databaseSchema"
    assert TestCaseResult.parent_type == "testCase"
    assert DatabaseService.parent_type is None
    for model in ENTITY_TYPES.values():
        assert model.parent_type is None or model.parent_type in ENTITY_TYPES


def test_fields_serialize_with_openmetadata_names_and_enum_values() -> None:
    table = Table(
        name="orders",
        database_schema="s.d.x",
        table_type="View",
        columns=[Column(name="id", data_type="BIGINT", ordinal_position=1)],
    )
    data = canonical(table)
    assert data["tableType"] == "View"
    assert data["columns"][0]["dataType"] == "BIGINT"
    assert data["columns"][0]["ordinalPosition"] == 1
    assert Table.model_validate(data) == table


def test_unknown_fields_and_values_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Table.model_validate({"name": "t", "databaseSchema": "s.d.x", "rowCount": 3})
    with pytest.raises(ValidationError, match="dataType"):
        Column.model_validate({"name": "c", "dataType": "NOT_A_TYPE"})


def test_a_lineage_edge_is_keyed_by_its_two_ends() -> None:
    edge = LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name="s.d.x.a"),
        to_entity=EntityReference(type="table", fully_qualified_name="s.d.x.b"),
    )
    assert edge.key == "s.d.x.a->s.d.x.b"
    assert edge.ends == ("s.d.x.a", "s.d.x.b")


def test_a_test_case_on_a_column_hangs_under_that_column() -> None:
    case = TestCase(name="not_null", table="s.d.x.orders", column="email", test_definition="nn")
    assert case.fqn == "s.d.x.orders.email.not_null"
    assert case.parent_fqn == "s.d.x.orders"
    assert case.entity_link == "<#E::table::s.d.x.orders::columns::email>"
    assert entity_link("s.d.x.orders") == "<#E::table::s.d.x.orders>"


def test_a_test_result_is_keyed_by_test_case_and_timestamp() -> None:
    result = TestCaseResult(
        test_case="s.d.x.t.nn", timestamp=1714564800000, test_case_status="Failed"
    )
    assert result.key == "s.d.x.t.nn@1714564800000"
    assert TestCaseResult.append_only
    assert not Table.append_only


def test_pipeline_and_model_names_hang_under_their_service() -> None:
    assert Pipeline(name="daily.load", service="airflow").fqn == 'airflow."daily.load"'
    assert MlModel(name="churn", service="mlflow", algorithm="xgb").fqn == "mlflow.churn"
