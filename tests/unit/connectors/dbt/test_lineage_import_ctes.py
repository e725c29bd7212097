"""Column lineage of a project in dbt's canonical style: import CTEs, `select * from final`.

The fixture (tests/fixtures/dbt/import_ctes) is a hand-written manifest fragment with compiled
SQL and the catalog's columns: each model reads its upstreams with `select *`, so every
column is traced only once the stars are expanded to the upstreams' catalog columns.
"""

from __future__ import annotations

import pytest

from syncer.connectors.dbt.lineage import lineage_edges
from syncer.connectors.dbt.mapping import Naming, Project, build_project
from syncer.models import LineageEdge
from tests.unit.connectors.dbt.runs import REPO, load

FIXTURE = REPO / "tests/fixtures/dbt/import_ctes"
RAW = "warehouse.jaffle.raw"
STAGING = "warehouse.jaffle.main"
MARTS = "warehouse.jaffle.marts"

Columns = dict[str, tuple[list[str], str | None]]


@pytest.fixture(scope="module")
def edges() -> dict[str, LineageEdge]:
    project = build_project(
        load("manifest.json", FIXTURE), load("catalog.json", FIXTURE), Naming("warehouse")
    )
    return _edges(project)


def _edges(project: Project) -> dict[str, LineageEdge]:
    return {e.fqn: e for e in lineage_edges(project)}


def _columns(edge: LineageEdge) -> Columns:
    """to column -> (from columns, function), with the tables' FQNs checked and left out."""
    found: Columns = {}
    for c in edge.columns_lineage:
        assert c.to_column.startswith(edge.to_entity.fully_qualified_name + ".")
        assert all(
            f.startswith(edge.from_entity.fully_qualified_name + ".") for f in c.from_columns
        )
        found[c.to_column.rsplit(".", 1)[-1]] = (
            [f.rsplit(".", 1)[-1] for f in c.from_columns],
            c.function,
        )
    return found


def test_every_dependency_is_an_edge(edges: dict[str, LineageEdge]) -> None:
    assert set(edges) == {
        f"{RAW}.customers->{STAGING}.stg_customers",
        f"{RAW}.orders->{STAGING}.stg_orders",
        f"{STAGING}.stg_customers->{MARTS}.customers",
        f"{STAGING}.stg_orders->{MARTS}.customers",
        f"{STAGING}.stg_orders->{MARTS}.orders",
    }


def test_a_staging_model_renames_the_columns_a_star_imports(edges: dict[str, LineageEdge]) -> None:
    assert _columns(edges[f"{RAW}.customers->{STAGING}.stg_customers"]) == {
        "customer_id": (["id"], None),
        "first_name": (["first_name"], None),
        "last_name": (["last_name"], None),
        "full_name": (["first_name", "last_name"], "first_name || ' ' || last_name"),
    }
    assert _columns(edges[f"{RAW}.orders->{STAGING}.stg_orders"]) == {
        "order_id": (["id"], None),
        "customer_id": (["user_id"], None),
        "order_date": (["order_date"], None),
        "status": (["status"], None),
        "amount": (["amount_cents"], "amount_cents / 100.0"),
    }


def test_a_qualified_star_in_a_join_passes_its_table_columns_on(
    edges: dict[str, LineageEdge],
) -> None:
    assert _columns(edges[f"{STAGING}.stg_customers->{MARTS}.customers"]) == {
        name: ([name], None) for name in ("customer_id", "first_name", "last_name", "full_name")
    }


def test_aggregates_with_filter_keep_the_columns_they_read(
    edges: dict[str, LineageEdge],
) -> None:
    assert _columns(edges[f"{STAGING}.stg_orders->{MARTS}.customers"]) == {
        "first_order": (["order_date"], "MIN(order_date)"),
        # The FILTER clause's column decides the value too.
        "completed_orders": (
            ["order_id", "status"],
            "COUNT(order_id) FILTER(WHERE status = 'completed')",
        ),
        "lifetime_value": (["amount"], "COALESCE(customer_orders.lifetime_value, 0)"),
    }


def test_a_star_next_to_a_window_function(edges: dict[str, LineageEdge]) -> None:
    assert _columns(edges[f"{STAGING}.stg_orders->{MARTS}.orders"]) == {
        "order_id": (["order_id"], None),
        "customer_id": (["customer_id"], None),
        "order_date": (["order_date"], None),
        "status": (["status"], None),
        "amount": (["amount"], None),
        # PARTITION BY and ORDER BY columns are what a row number is computed from.
        "customer_order_number": (
            ["customer_id", "order_date"],
            "ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY order_date)",
        ),
    }


def test_without_a_catalog_the_documented_columns_expand_the_stars() -> None:
    manifest = load("manifest.json", FIXTURE)
    manifest["sources"]["source.jaffle.raw.customers"]["columns"] = {
        "id": {"name": "id"},
        "first_name": {"name": "first_name"},
    }
    manifest["nodes"]["model.jaffle.stg_customers"]["columns"] = {
        "customer_id": {"name": "customer_id"},
        "first_name": {"name": "first_name"},
    }
    edges = _edges(build_project(manifest, None, Naming("warehouse")))
    assert _columns(edges[f"{RAW}.customers->{STAGING}.stg_customers"]) == {
        "customer_id": (["id"], None),
        "first_name": (["first_name"], None),
    }
