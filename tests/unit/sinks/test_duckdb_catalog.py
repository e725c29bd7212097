"""The embedded catalog's tables always show the current entities, columns and lineage."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from syncer.errors import SinkError
from syncer.sinks.duckdb_catalog import DuckDBCatalogConfig, DuckDBCatalogSink
from syncer.state import StateStore
from syncer.steps import Change, Refusals
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


def test_inside_the_state_file_each_payload_is_read_from_the_change_that_brought_it(
    tmp_path: Path,
) -> None:
    cat = Catalog(tmp_path, "state")
    cat.run([ORDERS, ITEMS], [edge("orders", "items")])
    assert cat.rows("SELECT count(*) FROM catalog.entity_rows WHERE payload IS NOT NULL") == [(0,)]
    same = cat.rows(
        "SELECT count(*), count(*) FILTER (WHERE e.payload = c.payload) "
        "FROM catalog.entities e JOIN changes c ON c.seq = e.seq"
    )
    assert same == [(6, 6)]


def test_the_catalog_reads_its_payloads_in_a_state_file_attached_under_another_name(
    tmp_path: Path,
) -> None:
    cat = Catalog(tmp_path, "state")
    cat.run([ORDERS], [])
    expected = cat.rows("SELECT fqn, payload FROM catalog.entities ORDER BY fqn")
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE changes (seq BIGINT, payload JSON)")  # not the file's own
        con.execute(f"ATTACH '{cat.engine.state_path}' AS other (READ_ONLY)")
        found = con.execute("SELECT fqn, payload FROM other.catalog.entities ORDER BY fqn")
        assert found.fetchall() == expected
    finally:
        con.close()


def test_a_catalog_that_copied_its_payloads_keeps_every_row_when_it_stops_copying(
    tmp_path: Path,
) -> None:
    cat = Catalog(tmp_path, "state")
    cat.run([ORDERS, ITEMS], [])
    before = cat.rows("SELECT * FROM catalog.entities ORDER BY fqn")
    # The layout of earlier releases: one table holding a copy of each payload, one of whose
    # changes the state no longer holds.
    con = duckdb.connect(str(cat.engine.state_path))
    con.execute("CREATE TABLE catalog.copied AS SELECT * FROM catalog.entities")
    con.execute("DROP VIEW catalog.entities")
    con.execute("DROP TABLE catalog.entity_rows")
    con.execute("ALTER TABLE catalog.copied RENAME TO entities")
    gone = f"{SCHEMA}.items"
    con.execute(
        "DELETE FROM changes WHERE seq = (SELECT seq FROM catalog.entities WHERE fqn = ?)", [gone]
    )
    con.close()
    cat.run([ORDERS, ITEMS], [])  # nothing changed: the sink only opens the catalog
    assert cat.rows("SELECT * FROM catalog.entities ORDER BY fqn") == before
    kept = cat.rows("SELECT fqn FROM catalog.entity_rows WHERE payload IS NOT NULL")
    assert kept == [(gone,)]
    views = cat.rows("SELECT view_name FROM duckdb_views() WHERE schema_name = 'catalog'")
    assert views == [("entities",)]


class _Flaky(DuckDBCatalogSink):
    """The embedded catalog, down while `down` is set."""

    down = False

    def write(self, changes: Sequence[Change]) -> Refusals:
        if self.down:
            raise SinkError("catalog down")
        return super().write(changes)


def test_prune_keeps_the_change_the_catalog_shows_while_a_newer_one_waits_for_it(
    tmp_path: Path,
) -> None:
    engine = Engine(tmp_path)
    sink = _Flaky(DuckDBCatalogConfig())
    engine.write_tables([table("orders", description="first")])
    engine.run(sinks={"catalog": sink})
    engine.write_tables([table("orders", description="second")])
    sink.down = True
    engine.run(sinks={"catalog": sink})  # the update waits for the catalog
    store = StateStore.open(engine.state_path, version="test")
    try:
        store.prune(engine.workflow, datetime.now(UTC) + timedelta(days=1))
    finally:
        store.close()
    shown = "SELECT payload->>'$.description' FROM catalog.entities WHERE entity_type = 'table'"
    assert engine.rows(shown) == [("first",)]
    sink.down = False
    engine.run(sinks={"catalog": sink})
    assert engine.rows(shown) == [("second",)]
