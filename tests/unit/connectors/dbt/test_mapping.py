"""The shop project's manifest and catalog as tables: names, columns, docs, tags, owners, SQL."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.connectors.dbt.mapping import Naming, Project, build_project
from syncer.models import Table
from tests.unit.connectors.dbt.runs import load

NAMING = Naming(service_name="warehouse")


@pytest.fixture(scope="module")
def project() -> Project:
    return build_project(load("manifest.json"), load("catalog.json"), NAMING)


def _table(project: Project, fqn: str) -> Table:
    return next(t for t in project.tables if t.fqn == fqn)


def test_models_seeds_snapshots_and_sources_are_tables_and_ephemeral_models_are_not(
    project: Project,
) -> None:
    assert sorted(t.fqn for t in project.tables) == [
        "warehouse.shop.main.stg_customers",
        "warehouse.shop.main.stg_orders",
        "warehouse.shop.main.stg_payments",
        "warehouse.shop.main_marts.customer_orders",
        "warehouse.shop.main_marts.orders",
        "warehouse.shop.main_raw.raw_customers",
        "warehouse.shop.main_raw.raw_orders",
        "warehouse.shop.main_snapshots.orders_snapshot",
        "warehouse.shop.payments.payments",
    ]
    assert "model.shop.int_order_payments" not in project.relations


def test_the_service_database_and_schemas_are_those_the_tables_sit_in(project: Project) -> None:
    assert (project.service.name, project.service.service_type) == ("warehouse", "CustomDatabase")
    assert [d.fqn for d in project.databases] == ["warehouse.shop"]
    assert sorted(s.fqn for s in project.schemas) == [
        "warehouse.shop.main",
        "warehouse.shop.main_marts",
        "warehouse.shop.main_raw",
        "warehouse.shop.main_snapshots",
        "warehouse.shop.payments",
    ]


def test_columns_come_from_the_catalog_with_the_manifests_descriptions(project: Project) -> None:
    table = _table(project, "warehouse.shop.main_marts.customer_orders")
    assert table.description == "One row per customer, with their order history."
    columns = {c.name: c for c in table.columns}
    assert list(columns) == [
        "customer_id",
        "full_name",
        "email",
        "order_count",
        "lifetime_value",
        "first_order_date",
    ]
    assert columns["customer_id"].data_type == "INT"
    assert columns["order_count"].data_type == "BIGINT"
    assert columns["first_order_date"].data_type == "DATE"
    assert columns["lifetime_value"].description == "Everything the customer ever paid."
    assert columns["full_name"].description is None
    assert [c.ordinal_position for c in table.columns] == [1, 2, 3, 4, 5, 6]


def test_views_and_tables_are_told_apart(project: Project) -> None:
    assert _table(project, "warehouse.shop.main.stg_orders").table_type == "View"
    assert _table(project, "warehouse.shop.main_marts.orders").table_type == "Regular"
    assert _table(project, "warehouse.shop.main_raw.raw_orders").table_type == "Regular"


def test_tags_are_under_the_dbt_classification_and_owners_come_from_meta(
    project: Project,
) -> None:
    marts = _table(project, "warehouse.shop.main_marts.customer_orders")
    assert [t.tag_fqn for t in marts.tags] == ["dbtTags.finance", "dbtTags.marts"]
    assert [o.fully_qualified_name for o in marts.owners] == ["bob"]
    orders = _table(project, "warehouse.shop.main_marts.orders")
    assert [(o.type, o.fully_qualified_name) for o in orders.owners] == [
        ("user", "alice"),
        ("user", "bob"),
    ]
    source = _table(project, "warehouse.shop.payments.payments")
    assert [o.fully_qualified_name for o in source.owners] == ["payments-team"]
    assert [t.tag_fqn for t in source.tags] == ["dbtTags.pii"]
    email = next(
        c for c in _table(project, "warehouse.shop.main.stg_customers").columns if c.name == "email"
    )
    assert [t.tag_fqn for t in email.tags] == ["dbtTags.pii"]


def test_a_model_s_definition_is_its_compiled_sql_and_a_seed_has_none(project: Project) -> None:
    definition = _table(project, "warehouse.shop.main.stg_payments").schema_definition
    assert definition is not None
    assert 'from "shop"."payments"."payments"' in definition
    assert "{{" not in definition
    assert _table(project, "warehouse.shop.main_raw.raw_orders").schema_definition is None


def test_a_source_keeps_its_description(project: Project) -> None:
    assert _table(project, "warehouse.shop.payments.payments").description == (
        "One row per payment attempt."
    )


def test_upstreams_go_through_ephemeral_models_to_the_tables_they_read(project: Project) -> None:
    assert project.upstreams["warehouse.shop.main_marts.orders"] == [
        "warehouse.shop.main.stg_payments",
        "warehouse.shop.main.stg_orders",
    ]
    assert project.upstreams["warehouse.shop.main_raw.raw_orders"] == []


def test_without_a_catalog_columns_are_the_documented_ones_with_declared_types() -> None:
    manifest = load("manifest.json")
    manifest["nodes"]["model.shop.orders"]["columns"]["order_id"]["data_type"] = "bigint"
    project = build_project(manifest, None, NAMING)
    table = _table(project, "warehouse.shop.main_marts.orders")
    assert [(c.name, c.data_type, c.ordinal_position) for c in table.columns] == [
        ("order_id", "BIGINT", 1),
        ("amount", "UNKNOWN", 2),
    ]
    # Without the catalog, the materialization says what the relation is.
    assert _table(project, "warehouse.shop.main.stg_orders").table_type == "View"


def test_a_contracted_column_s_constraint_is_kept() -> None:
    manifest = load("manifest.json")
    column: dict[str, Any] = manifest["nodes"]["model.shop.orders"]["columns"]["order_id"]
    column["constraints"] = [{"type": "not_null"}, {"type": "primary_key"}]
    project = build_project(manifest, load("catalog.json"), NAMING)
    order_id = _table(project, "warehouse.shop.main_marts.orders").columns[0]
    assert (order_id.name, order_id.constraint) == ("order_id", "PRIMARY_KEY")


def test_a_node_without_a_database_goes_under_the_default_database() -> None:
    manifest = load("manifest.json")
    for node in manifest["nodes"].values():
        node["database"] = None
    project = build_project(manifest, None, NAMING)
    assert _table(project, "warehouse.default.main_marts.orders")
    assert {d.name for d in project.databases} == {"default", "shop"}  # the source keeps its own


def test_the_service_type_follows_the_adapter_unless_configured() -> None:
    manifest = load("manifest.json")
    manifest["metadata"]["adapter_type"] = "postgres"
    assert build_project(manifest, None, NAMING).service.service_type == "Postgres"
    configured = Naming(service_name="warehouse", service_type="Greenplum")
    assert build_project(manifest, None, configured).service.service_type == "Greenplum"


def test_a_disabled_model_is_left_out() -> None:
    manifest = load("manifest.json")
    manifest["nodes"]["model.shop.orders"]["config"]["enabled"] = False
    project = build_project(manifest, load("catalog.json"), NAMING)
    assert "model.shop.orders" not in project.relations
