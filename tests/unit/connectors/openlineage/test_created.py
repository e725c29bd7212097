"""The tables made for datasets of unmapped namespaces: where they live, what their service is
called and typed, and which columns their `schema` facets give them."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.connectors.openlineage.created import (
    DEFAULT_LEVEL,
    Place,
    column_of,
    column_type,
    columns,
    create_tables,
    place,
    service_name,
    service_type,
)
from syncer.connectors.openlineage.naming import Unresolved

PG = "postgres://db.internal:5432"
SERVICE = "openlineage_postgres_db_internal_5432"


def schema(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"schema": {"fields": list(fields)}}


@pytest.mark.parametrize(
    ("namespace", "name", "levels"),
    [
        (PG, "shop.public.orders", ("shop", "public", "orders")),
        (PG, "shop.public.order.archive", ("shop", "public", "order.archive")),
        ("mysql://crm:3306", "crm.accounts", (DEFAULT_LEVEL, "crm", "accounts")),
        ("kafka://broker:9092", "orders", (DEFAULT_LEVEL, DEFAULT_LEVEL, "orders")),
        (
            "s3://lake",
            "/sales/orders.parquet",
            (DEFAULT_LEVEL, DEFAULT_LEVEL, "sales/orders.parquet"),
        ),
        ("hdfs://nn:8020", "warehouse/t", (DEFAULT_LEVEL, DEFAULT_LEVEL, "warehouse/t")),
    ],
)
def test_a_names_parts_fill_database_schema_and_table_and_a_path_is_the_table(
    namespace: str, name: str, levels: tuple[str, str, str]
) -> None:
    found = place(namespace, name, "openlineage")

    assert isinstance(found, Place)
    assert (found.database, found.schema, found.table) == levels


def test_a_table_name_holding_a_dot_is_quoted_in_its_fqn() -> None:
    found = place("s3://lake", "sales/orders.parquet", "openlineage")

    assert isinstance(found, Place)
    assert found.fqn == 'openlineage_s3_lake.default.default."sales/orders.parquet"'


def test_a_name_without_a_table_is_unresolved_and_says_so() -> None:
    found = place(PG, "..", "openlineage")

    assert isinstance(found, Unresolved)
    assert "names no table" in found.reason


@pytest.mark.parametrize(
    ("namespace", "name", "kind"),
    [
        (PG, SERVICE, "Postgres"),
        ("MySQL://CRM.internal:3306/", "openlineage_mysql_crm_internal_3306", "Mysql"),
        ("bigquery", "openlineage_bigquery", "BigQuery"),
        ("snowflake://acme-prod", "openlineage_snowflake_acme_prod", "Snowflake"),
        ("awsathena://athena.eu-west-1.amazonaws.com", None, "Athena"),
        ("s3://lake-bucket", "openlineage_s3_lake_bucket", "CustomDatabase"),
    ],
)
def test_a_namespace_gives_a_readable_service_typed_by_its_scheme(
    namespace: str, name: str | None, kind: str
) -> None:
    if name is not None:
        assert service_name("openlineage", namespace) == name
    assert service_type(namespace) == kind


@pytest.mark.parametrize(
    ("raw", "dialect", "expected"),
    [
        ("integer", "postgresql", {"data_type": "INT", "data_type_display": "integer"}),
        ("VARCHAR(20)", None, {"data_type": "VARCHAR", "data_length": 20}),
        ("decimal(10,2)", None, {"data_type": "DECIMAL", "precision": 10, "scale": 2}),
        ("array<string>", None, {"data_type": "ARRAY", "array_data_type": "STRING"}),
        ("INT64", None, {"data_type": "BIGINT", "data_type_display": "int64"}),
        ("timestamp with time zone", "postgresql", {"data_type": "TIMESTAMPZ"}),
        ("geheimnis", None, {"data_type": "UNKNOWN", "data_type_display": "geheimnis"}),
        ("", None, {"data_type": "UNKNOWN"}),
    ],
)
def test_a_field_type_maps_as_the_sql_source_maps_it_and_unknown_ones_are_unknown(
    raw: str, dialect: str | None, expected: dict[str, Any]
) -> None:
    mapped = column_type(raw, dialect)

    assert {key: mapped.get(key) for key in expected} == expected


def test_a_field_without_a_name_is_no_column_and_nested_fields_are_children() -> None:
    assert column_of({"type": "int"}) is None
    address = column_of(
        {"name": "address", "fields": [{"name": "city", "type": "string", "description": "Town"}]}
    )

    assert address is not None
    assert address.data_type == "STRUCT"
    assert [(c.name, c.data_type, c.description) for c in address.children or []] == [
        ("city", "STRING", "Town")
    ]


def test_columns_follow_the_newest_schema_then_those_only_older_runs_show() -> None:
    newest = schema({"name": "id", "type": "bigint"}, {"name": "total", "type": "numeric(12,2)"})
    older = schema({"name": "total", "type": "text"}, {"name": "legacy", "type": "text"})

    found = columns([newest, {}, older], PG)

    assert [(c.name, c.data_type) for c in found] == [
        ("id", "BIGINT"),
        ("total", "NUMERIC"),
        ("legacy", "TEXT"),
    ]


def test_create_tables_makes_each_table_with_its_parents_once() -> None:
    datasets = {
        (PG, "shop.public.orders"): [schema({"name": "id", "type": "int"})],
        (PG, "shop.public.customers"): [{"documentation": {"description": "People"}}],
        (PG, "."): [],
    }

    created = create_tables(datasets, "openlineage")

    assert list(created.services) == [SERVICE]
    assert created.services[SERVICE].service_type == "Postgres"
    assert list(created.databases) == [f"{SERVICE}.shop"]
    assert list(created.schemas) == [f"{SERVICE}.shop.public"]
    orders = created.tables[f"{SERVICE}.shop.public.orders"]
    assert [c.name for c in orders.columns] == ["id"]
    assert created.tables[f"{SERVICE}.shop.public.customers"].description == "People"
    assert created.fqns[PG, "shop.public.orders"] == orders.fqn
    assert list(created.unresolved) == [(PG, ".")]
