"""OpenLineage dataset names resolve to the FQNs our sql source gives the same tables."""

from __future__ import annotations

import pytest

from syncer.connectors.openlineage.naming import Unresolved, table_fqn

NAMESPACES = {
    "postgres://db.internal:5432": "warehouse",
    "mysql://crm.internal:3306": "crm.app",
    "snowflake://acme-prod": "snow",
    "bigquery": "bq",
    "s3://lake-bucket": "lake.raw",
}


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("postgres://db.internal:5432", "sales.public.orders", "warehouse.sales.public.orders"),
        # MySQL names database.table: the database is the sql source's schema level.
        ("mysql://crm.internal:3306", "sales.accounts", "crm.app.sales.accounts"),
        ("snowflake://acme-prod", "ANALYTICS.PUBLIC.ORDERS", "snow.ANALYTICS.PUBLIC.ORDERS"),
        ("bigquery", "my-project.shop.orders", "bq.my-project.shop.orders"),
        ("s3://lake-bucket", "sales/orders", "lake.raw.sales.orders"),
    ],
)
def test_a_dataset_in_a_mapped_namespace_names_the_table_the_sql_source_names(
    namespace: str, name: str, expected: str
) -> None:
    assert table_fqn(namespace, name, NAMESPACES) == expected


def test_a_table_name_holding_a_dot_is_quoted_as_the_sql_source_quotes_it() -> None:
    assert (
        table_fqn("postgres://db.internal:5432", "shop.main.order.archive", NAMESPACES)
        == 'warehouse.shop.main."order.archive"'
    )


def test_a_path_keeps_its_deeper_folders_in_the_table_name() -> None:
    assert (
        table_fqn("s3://lake-bucket", "sales/2026/orders.parquet", NAMESPACES)
        == 'lake.raw.sales."2026/orders.parquet"'
    )


def test_namespaces_match_whatever_the_case_of_scheme_and_host_and_a_trailing_slash() -> None:
    assert (
        table_fqn("POSTGRES://DB.internal:5432/", "sales.public.orders", NAMESPACES)
        == "warehouse.sales.public.orders"
    )


def test_a_quoted_service_prefix_keeps_its_dot() -> None:
    found = table_fqn("postgres://pg:5432", "a.b.c", {"postgres://pg:5432": '"pg.prod"'})
    assert found == '"pg.prod".a.b.c'


def test_an_unmapped_namespace_is_unresolved_and_says_what_to_add() -> None:
    found = table_fqn("postgres://other:5432", "sales.public.orders", NAMESPACES)
    assert isinstance(found, Unresolved)
    assert "postgres://other:5432 is not mapped: add it to the source's namespaces" in found.reason
    assert found.reason.endswith("or set unknown_datasets: create")


def test_a_mysql_namespace_mapped_to_a_service_alone_asks_for_service_dot_database() -> None:
    found = table_fqn("mysql://m:3306", "sales.accounts", {"mysql://m:3306": "crm"})
    assert isinstance(found, Unresolved)
    assert "service.database for MySQL" in found.reason
