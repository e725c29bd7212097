"""Lineage between the shop's tables: edges from depends_on, columns from the compiled SQL."""

from __future__ import annotations

import pytest

from syncer.connectors.dbt.lineage import dialect_of, lineage_edges
from syncer.connectors.dbt.mapping import Naming, Project, build_project
from syncer.models import LineageEdge
from tests.unit.connectors.dbt.runs import load

MARTS = "warehouse.shop.main_marts"
STAGING = "warehouse.shop.main"


@pytest.fixture(scope="module")
def project() -> Project:
    return build_project(load("manifest.json"), load("catalog.json"), Naming("warehouse"))


def _edges(project: Project, *, column_lineage: bool = True) -> dict[str, LineageEdge]:
    return {e.fqn: e for e in lineage_edges(project, column_lineage=column_lineage)}


def _columns(edge: LineageEdge) -> dict[str, tuple[list[str], str | None]]:
    return {
        c.to_column.rsplit(".", 1)[-1]: (
            [f.rsplit(".", 1)[-1] for f in c.from_columns],
            c.function,
        )
        for c in edge.columns_lineage
    }


def test_every_dependency_between_tables_is_an_edge_with_dbt_as_its_source(
    project: Project,
) -> None:
    edges = _edges(project)
    assert set(edges) == {
        f"{STAGING}.stg_customers->{MARTS}.customer_orders",
        f"{STAGING}.stg_orders->warehouse.shop.main_snapshots.orders_snapshot",
        f"{STAGING}.stg_orders->{MARTS}.orders",
        f"{STAGING}.stg_payments->{MARTS}.orders",
        f"warehouse.shop.main_raw.raw_customers->{STAGING}.stg_customers",
        f"warehouse.shop.main_raw.raw_orders->{STAGING}.stg_orders",
        f"{MARTS}.orders->{MARTS}.customer_orders",
        f"warehouse.shop.payments.payments->{STAGING}.stg_payments",
    }
    assert {e.source for e in edges.values()} == {"DbtLineage"}


def test_columns_are_traced_through_ctes_and_aggregates(project: Project) -> None:
    edge = _edges(project)[f"{MARTS}.orders->{MARTS}.customer_orders"]
    assert _columns(edge) == {
        "order_count": (["order_id"], "COALESCE(pc.order_count, 0)"),
        "lifetime_value": (["amount"], "COALESCE(pc.lifetime_value, 0)"),
        # Passed on from the CTE that computes it, with the expression it has there.
        "first_order_date": (["order_date"], "MIN(order_date)"),
    }


def test_columns_are_traced_through_an_ephemeral_model_to_the_table_it_reads(
    project: Project,
) -> None:
    edge = _edges(project)[f"{STAGING}.stg_payments->{MARTS}.orders"]
    assert _columns(edge) == {"amount": (["amount"], "COALESCE(p.amount, 0)")}


def test_an_expression_over_several_columns_keeps_them_all(project: Project) -> None:
    edge = _edges(project)[f"warehouse.shop.main_raw.raw_customers->{STAGING}.stg_customers"]
    assert _columns(edge)["full_name"] == (
        ["first_name", "last_name"],
        "first_name || ' ' || last_name",
    )
    assert edge.columns_lineage[0].from_columns[0].startswith("warehouse.shop.main_raw.")


def test_a_select_star_snapshot_has_each_column_of_the_model_it_copies(project: Project) -> None:
    edge = _edges(project)[f"{STAGING}.stg_orders->warehouse.shop.main_snapshots.orders_snapshot"]
    assert _columns(edge) == {
        name: ([name], None) for name in ("order_id", "customer_id", "order_date", "status")
    }


def test_a_star_over_a_table_without_known_columns_gives_no_column_lineage() -> None:
    catalog = load("catalog.json")
    del catalog["nodes"]["model.shop.stg_orders"]
    manifest = load("manifest.json")
    manifest["nodes"]["model.shop.stg_orders"]["columns"] = {}
    project = build_project(manifest, catalog, Naming("warehouse"))
    edge = _edges(project)[f"{STAGING}.stg_orders->warehouse.shop.main_snapshots.orders_snapshot"]
    assert edge.columns_lineage == []


def test_column_lineage_can_be_turned_off(project: Project) -> None:
    assert all(e.columns_lineage == [] for e in _edges(project, column_lineage=False).values())


def test_a_column_the_table_does_not_have_is_never_sent() -> None:
    catalog = load("catalog.json")
    del catalog["nodes"]["model.shop.stg_customers"]["columns"]["email"]
    project = build_project(load("manifest.json"), catalog, Naming("warehouse"))
    edge = _edges(project)[f"{STAGING}.stg_customers->{MARTS}.customer_orders"]
    assert sorted(_columns(edge)) == ["customer_id", "full_name"]


def test_sql_that_cannot_be_parsed_still_gives_table_edges() -> None:
    manifest = load("manifest.json")
    manifest["nodes"]["model.shop.customer_orders"]["compiled_code"] = "select ((( from"
    project = build_project(manifest, load("catalog.json"), Naming("warehouse"))
    edge = _edges(project)[f"{MARTS}.orders->{MARTS}.customer_orders"]
    assert edge.columns_lineage == []


@pytest.mark.parametrize(
    ("adapter", "dialect"),
    [("duckdb", "duckdb"), ("postgres", "postgres"), ("sqlserver", "tsql"), ("dremio", "")],
)
def test_the_sql_dialect_follows_the_adapter(adapter: str, dialect: str) -> None:
    assert dialect_of(adapter) == dialect
