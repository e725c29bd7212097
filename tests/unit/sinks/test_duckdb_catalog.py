"""The embedded catalog's tables always show the current entities, columns and lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from syncer.sinks.duckdb_catalog import DuckDBCatalogConfig, DuckDBCatalogSink
from tests.support.engine import SCHEMA, Engine, catalog, table

Where = str  # "state" (inside the state file) or "file" (a catalog file of its own)


def edge(source: str, target: str, columns: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {
        "from_entity": {"type": "table", "fully_qualified_name": f"{SCHEMA}.{source}"},
        "to_entity": {"type": "table", "fully_qualified_name": f"{SCHEMA}.{target}"},
        "source": "ViewLineage",
        "columns_lineage": [
            {"from_columns": [f"{SCHEMA}.{source}.{a}"], "to_column": f"{SCHEMA}.{target}.{b}"}
            for a, b in columns or []
        ],
    }


class Catalog:
    """A workflow delivering to the DuckDB catalog, and SQL over what the catalog holds."""

    def __init__(self, tmp_path: Path, where: Where) -> None:
        self.engine = Engine(tmp_path)
        self.path = tmp_path / "catalog.duckdb" if where == "file" else None
        self.schema = "catalog" if where == "state" else "meta"

    def run(self, tables: list[dict[str, Any]], edges: list[dict[str, Any]]) -> None:
        streams = catalog(tables)
        streams.append({"name": "lineage", "entity_type": "lineage", "records": edges})
        self.engine.write(streams)
        sink = DuckDBCatalogSink(DuckDBCatalogConfig(path=self.path, schema_name=self.schema))
        result = self.engine.run(sinks={"catalog": sink}, deletions={"fail_safe_percent": 100})
        assert [r.error for r in result.deliveries] == [None]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        path = self.path or self.engine.state_path
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute(sql.replace("catalog.", f'"{self.schema}".')).fetchall()
        finally:
            con.close()

    def tables(self) -> list[tuple[str, str]]:
        return self.rows(
            "SELECT fqn, name FROM catalog.entities WHERE entity_type = 'table' ORDER BY fqn"
        )

    def columns(self, table_fqn: str) -> list[tuple[Any, ...]]:
        return self.rows(
            "SELECT name, data_type, data_length, description FROM catalog.columns "
            f"WHERE table_fqn = '{table_fqn}' ORDER BY ordinal_position, name"
        )

    def lineage(self) -> list[tuple[Any, ...]]:
        return [
            (a, b, source, orjson.loads(cols) if cols else None)
            for a, b, source, cols in self.rows(
                "SELECT from_fqn, to_fqn, source, columns_lineage FROM catalog.lineage "
                "ORDER BY 1, 2"
            )
        ]


@pytest.fixture(params=["state", "file"])
def cat(request: pytest.FixtureRequest, tmp_path: Path) -> Catalog:
    return Catalog(tmp_path, request.param)


ORDERS = table(
    "orders",
    columns=[
        {"name": "id", "data_type": "INT", "ordinal_position": 1},
        {"name": "email", "data_type": "VARCHAR", "data_length": 100, "ordinal_position": 2},
    ],
)
ITEMS = table("items", columns=[{"name": "order_id", "data_type": "INT", "ordinal_position": 1}])


def test_created_entities_columns_and_lineage_appear(cat: Catalog) -> None:
    cat.run([ORDERS, ITEMS], [edge("orders", "items", [("id", "order_id")])])
    assert cat.tables() == [(f"{SCHEMA}.items", "items"), (f"{SCHEMA}.orders", "orders")]
    assert cat.columns(f"{SCHEMA}.orders") == [
        ("id", "INT", None, None),
        ("email", "VARCHAR", 100, None),
    ]
    assert cat.lineage() == [
        (
            f"{SCHEMA}.orders",
            f"{SCHEMA}.items",
            "ViewLineage",
            [{"fromColumns": [f"{SCHEMA}.orders.id"], "toColumn": f"{SCHEMA}.items.order_id"}],
        )
    ]
    types = dict(cat.rows("SELECT entity_type, count(*) FROM catalog.entities GROUP BY 1"))
    assert types == {
        "databaseService": 1,
        "database": 1,
        "databaseSchema": 1,
        "table": 2,
        "lineage": 1,
    }


def test_an_updated_table_replaces_its_row_and_its_columns(cat: Catalog) -> None:
    cat.run([ORDERS, ITEMS], [])
    changed = table(
        "orders",
        description="Customer orders",
        columns=[
            {"name": "id", "data_type": "BIGINT", "ordinal_position": 1},
            {
                "name": "email",
                "data_type": "VARCHAR",
                "data_length": 255,
                "ordinal_position": 2,
                "description": "who ordered",
            },
            {"name": "total", "data_type": "DECIMAL", "ordinal_position": 3},
        ],
    )
    cat.run([changed, ITEMS], [])
    assert cat.columns(f"{SCHEMA}.orders") == [
        ("id", "BIGINT", None, None),
        ("email", "VARCHAR", 255, "who ordered"),
        ("total", "DECIMAL", None, None),
    ]
    rows = cat.rows(
        "SELECT payload->>'$.description', count(*) OVER () FROM catalog.entities "
        f"WHERE fqn = '{SCHEMA}.orders'"
    )
    assert rows == [("Customer orders", 1)]


def test_a_deleted_table_and_edge_disappear_with_their_columns(cat: Catalog) -> None:
    customers = table("customers")
    cat.run([ORDERS, ITEMS, customers], [edge("orders", "items"), edge("customers", "orders")])
    cat.run([ORDERS, customers], [edge("customers", "orders")])
    assert cat.tables() == [(f"{SCHEMA}.customers", "customers"), (f"{SCHEMA}.orders", "orders")]
    assert cat.columns(f"{SCHEMA}.items") == []
    assert cat.columns(f"{SCHEMA}.orders") != []
    assert [(a, b) for a, b, _, _ in cat.lineage()] == [(f"{SCHEMA}.customers", f"{SCHEMA}.orders")]


def test_a_re_run_with_no_changes_leaves_the_catalog_as_it_was(cat: Catalog) -> None:
    cat.run([ORDERS, ITEMS], [edge("orders", "items")])
    before = (
        cat.rows("SELECT * FROM catalog.entities ORDER BY fqn"),
        cat.rows("SELECT * FROM catalog.columns ORDER BY table_fqn, name"),
    )
    cat.run([ORDERS, ITEMS], [edge("orders", "items")])
    after = (
        cat.rows("SELECT * FROM catalog.entities ORDER BY fqn"),
        cat.rows("SELECT * FROM catalog.columns ORDER BY table_fqn, name"),
    )
    assert after == before


def test_a_table_deleted_and_restored_in_one_delivery_is_present(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, "file")
    cat.run([ORDERS, ITEMS], [])
    # a sink that was down during the deletion gets both changes in one batch: the last wins
    cat.engine.write(catalog([ORDERS]))
    cat.engine.run(deletions={"fail_safe_percent": 100})
    cat.engine.write(catalog([ORDERS, ITEMS]))
    cat.engine.run()
    cat.run([ORDERS, ITEMS], [])
    assert cat.tables() == [(f"{SCHEMA}.items", "items"), (f"{SCHEMA}.orders", "orders")]
    assert cat.columns(f"{SCHEMA}.items") == [("order_id", "INT", None, None)]
