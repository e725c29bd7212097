"""Reading the example shop SQLite file gives exactly the expected services, tables and lineage."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from syncer.connectors.sql import SqlConfig, SqlSource
from syncer.connectors.sql.reflect import GenericReflector, SqliteReflector, sqlite_engine
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.models import Entity, LineageEdge, Table
from syncer.steps import Either, RecordError
from tests.support.sources import read_stream

# The `read_all` fixture (conftest.py): every stream of a source, lineage included.
ReadAll = Callable[[SqlSource], dict[str, list[Either]]]

GOLDEN = Path(__file__).parent / "golden" / "shop_sqlite.json"


def _payloads(records: dict[str, list[Either]]) -> dict[str, list[object]]:
    return {
        stream: [
            r.model_dump(mode="json", exclude_none=True) if isinstance(r, Entity) else repr(r)
            for r in items
        ]
        for stream, items in records.items()
    }


def _tables(records: dict[str, list[Either]]) -> dict[str, Table]:
    return {t.fqn: t for t in records["tables"] if isinstance(t, Table)}


@pytest.fixture
def shop(shop_path: Path, read_all: ReadAll) -> dict[str, list[Either]]:
    source = SqlSource(SqlConfig(url=f"sqlite:///{shop_path}"))
    try:
        return read_all(source)
    finally:
        source.close()


def test_the_shop_file_reads_exactly_as_the_golden_file_says(shop: dict[str, list[Either]]) -> None:
    actual = _payloads(shop)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    expected: dict[str, list[object]] = json.loads(GOLDEN.read_text())
    assert actual == expected


def test_streams_come_in_topology_order_with_lineage_derived(shop_path: Path) -> None:
    source = SqlSource(SqlConfig(url=f"sqlite:///{shop_path}"))
    names = [(s.name, s.entity_type, s.derived, s.cursor) for s in source.streams()]
    assert names == [
        ("services", "databaseService", False, None),
        ("databases", "database", False, None),
        ("schemas", "databaseSchema", False, None),
        ("tables", "table", False, None),
        ("lineage", "lineage", True, None),
    ]


def test_fqns_are_service_database_schema_table_with_dots_quoted(
    shop: dict[str, list[Either]],
) -> None:
    assert [e.fqn for e in shop["services"] if isinstance(e, Entity)] == ["sqlite"]
    assert [e.fqn for e in shop["databases"] if isinstance(e, Entity)] == ["sqlite.shop"]
    assert [e.fqn for e in shop["schemas"] if isinstance(e, Entity)] == ["sqlite.shop.main"]
    assert sorted(_tables(shop)) == [
        'sqlite.shop.main."order.archive"',
        "sqlite.shop.main.customer_orders",
        "sqlite.shop.main.customers",
        "sqlite.shop.main.order_items",
        "sqlite.shop.main.orders",
        "sqlite.shop.main.products",
        "sqlite.shop.main.revenue_by_product",
    ]


def test_columns_carry_types_positions_and_constraints(shop: dict[str, list[Either]]) -> None:
    products = _tables(shop)["sqlite.shop.main.products"]
    columns = {c.name: c for c in products.columns}
    assert [(c.name, c.ordinal_position) for c in products.columns][:2] == [
        ("product_id", 1),
        ("sku", 2),
    ]
    price = columns["price"]
    assert (price.data_type, price.precision, price.scale) == ("DECIMAL", 10, 2)
    assert (columns["sku"].data_type, columns["sku"].data_length) == ("VARCHAR", 32)
    assert columns["photo"].data_type == "BLOB"
    assert columns["product_id"].constraint == "PRIMARY_KEY"
    assert columns["sku"].constraint == "NOT_NULL"
    assert columns["weight_kg"].constraint == "NULL"


def test_keys_become_table_constraints_with_referred_column_fqns(
    shop: dict[str, list[Either]],
) -> None:
    items = _tables(shop)["sqlite.shop.main.order_items"]
    assert {c.constraint_type: c for c in items.table_constraints}["PRIMARY_KEY"].columns == [
        "order_id",
        "line_no",
    ]
    foreign = {
        tuple(c.columns): c.referred_columns
        for c in items.table_constraints
        if c.constraint_type == "FOREIGN_KEY"
    }
    assert foreign == {
        ("order_id",): ["sqlite.shop.main.orders.order_id"],
        ("product_id",): ["sqlite.shop.main.products.product_id"],
    }
    # A composite key belongs to no single column.
    assert {c.constraint for c in items.columns} == {"NOT_NULL"}


def test_views_have_their_sql_and_view_type(shop: dict[str, list[Either]]) -> None:
    view = _tables(shop)["sqlite.shop.main.customer_orders"]
    assert view.table_type == "View"
    assert view.schema_definition is not None
    assert view.schema_definition.startswith("CREATE VIEW customer_orders AS")
    assert _tables(shop)["sqlite.shop.main.orders"].schema_definition is None


def test_view_lineage_reaches_tables_and_views_with_column_lineage(
    shop: dict[str, list[Either]],
) -> None:
    edges = {e.ends: e for e in shop["lineage"] if isinstance(e, LineageEdge)}
    prefix = "sqlite.shop.main."
    assert sorted((a.removeprefix(prefix), b.removeprefix(prefix)) for a, b in edges) == [
        ("customer_orders", "revenue_by_product"),
        ("customers", "customer_orders"),
        ("order_items", "revenue_by_product"),
        ("orders", "customer_orders"),
        ("products", "revenue_by_product"),
    ]
    view_over_view = edges[(prefix + "customer_orders", prefix + "revenue_by_product")]
    assert view_over_view.source == "ViewLineage"
    assert view_over_view.sql_query is None
    assert [(c.from_columns, c.to_column) for c in view_over_view.columns_lineage] == [
        ([prefix + "customer_orders.order_date"], prefix + "revenue_by_product.order_date")
    ]
    renamed = edges[(prefix + "orders", prefix + "customer_orders")].columns_lineage
    assert (
        [prefix + "orders.ordered_on"],
        prefix + "customer_orders.order_date",
    ) in [(c.from_columns, c.to_column) for c in renamed]


def test_view_lineage_can_be_turned_off(shop_path: Path, read_all: ReadAll) -> None:
    source = SqlSource(SqlConfig(url=f"sqlite:///{shop_path}", view_lineage=False))
    assert read_all(source)["lineage"] == []


def test_the_generic_path_and_the_fast_path_read_identical_tables(
    shop_path: Path, read_all: ReadAll
) -> None:
    config = SqlConfig(url=f"sqlite:///{shop_path}")
    fast = SqlSource(config, reflector=SqliteReflector(sqlite_engine(shop_path)))
    generic = SqlSource(config, reflector=GenericReflector(sqlite_engine(shop_path)))
    fast_records, generic_records = read_all(fast), read_all(generic)
    assert len(fast_records["tables"]) == 7
    assert _payloads(fast_records) == _payloads(generic_records)


def test_the_source_picks_the_fast_path_for_sqlite(shop_path: Path) -> None:
    source = SqlSource(SqlConfig(url=f"sqlite:///{shop_path}"))
    source.test_connection()
    assert isinstance(source.targets.open(), SqliteReflector)
    source.close()


def test_the_fast_path_reads_inline_unique_and_implicit_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "inline.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE Parent (id INTEGER PRIMARY KEY, code VARCHAR(8) NOT NULL UNIQUE);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent);"
        )
    conn.close()
    tables = SqliteReflector(sqlite_engine(path)).tables("main", lambda _: True)
    parent, child = sorted(tables, key=lambda t: t.name != "Parent")
    assert parent.unique == [("code",)]
    assert [(f.referred_table, f.referred_columns) for f in child.foreign_keys] == [
        ("Parent", ("id",))
    ]


def test_keys_are_read_however_their_create_statement_spells_them(tmp_path: Path) -> None:
    path = tmp_path / "spelled.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT, CONSTRAINT c UnIqUe (code));"
            "CREATE TABLE child (id INTEGER, pid INTEGER,"
            " FOREIGN KEY (pid) ReFeReNcEs parent (id));"
            "CREATE TABLE later (id INTEGER);"
            "ALTER TABLE later ADD COLUMN pid INTEGER references parent (id);"
            "CREATE TABLE lookalike (unique_code TEXT, references_note TEXT);"
        )
    conn.close()
    tables = {t.name: t for t in SqliteReflector(sqlite_engine(path)).tables("main", bool)}
    assert tables["parent"].unique == [("code",)]
    for name in ("child", "later"):
        assert [(f.columns, f.referred_table) for f in tables[name].foreign_keys] == [
            (("pid",), "parent")
        ]
    assert tables["lookalike"].unique == []
    assert tables["lookalike"].foreign_keys == []


def test_a_broken_view_is_one_record_error_and_the_rest_still_comes(
    tmp_path: Path, read_all: ReadAll
) -> None:
    path = tmp_path / "broken.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE gone (x INTEGER); CREATE TABLE kept (y INTEGER);"
            "CREATE VIEW orphan AS SELECT x FROM gone; DROP TABLE gone;"
        )
    conn.close()
    records = read_all(SqlSource(SqlConfig(url=f"sqlite:///{path}")))["tables"]
    assert [r.fqn for r in records if isinstance(r, Table)] == ["sqlite.broken.main.kept"]
    errors = [r for r in records if isinstance(r, RecordError)]
    assert [e.record for e in errors] == ["sqlite.broken.main.orphan"]
    assert "gone" in errors[0].reason


def test_a_missing_sqlite_file_is_a_clear_error_and_no_file_is_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    source = SqlSource(SqlConfig(url=f"sqlite:///{missing}"))
    with pytest.raises(SourceError, match=r"sqlite file .*nope\.sqlite does not exist"):
        source.test_connection()
    with pytest.raises(SourceError):
        read_stream(source, "schemas")
    assert not missing.exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_sqlite_url_without_a_file_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="names no database file"):
        SqlSource(SqlConfig(url=url)).test_connection()


def test_an_unknown_dialect_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="unknown dialect 'nosuchdb'"):
        SqlSource(SqlConfig(url="nosuchdb://u:pw@host/db"))


def test_a_password_never_appears_in_an_error() -> None:
    try:
        source = SqlSource(SqlConfig(url="postgresql://user:s3cret@127.0.0.1:9/db"))
        report = source.test_connection()
    except SyncerError as err:
        message = str(err)
    else:
        assert not report.ok
        message = repr(report)
    assert "s3cret" not in message
    assert "\n" not in message


def test_test_connection_lists_the_visible_schemas(shop_path: Path) -> None:
    report = SqlSource(SqlConfig(url=f"sqlite:///{shop_path}")).test_connection()
    assert report.ok
    assert report.checks[-1] == ("list schemas", True, "1 visible, 1 kept by the filters: main")
