"""A DuckDB file is read from DuckDB's own catalog: schemas, tables, views, keys and comments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from syncer.connectors.sql import SqlConfig, SqlSource
from syncer.connectors.sql.reflect import DuckDBReflector, NameFilter, RawTable
from syncer.models import DatabaseSchema, DatabaseService, LineageEdge, Table
from syncer.steps import Either, RecordError
from tests.support.sources import mapped

# The `read_all` fixture (conftest.py): every stream of a source, lineage included.
ReadAll = Callable[[SqlSource], dict[str, list[Either]]]

DDL = """
CREATE SCHEMA sales;
CREATE SCHEMA reporting;
CREATE TABLE sales.customers (
    id INTEGER PRIMARY KEY,
    email VARCHAR NOT NULL UNIQUE,
    tags VARCHAR[],
    balance DECIMAL(12,2),
    seen_at TIMESTAMP WITH TIME ZONE,
    address STRUCT(street VARCHAR, city VARCHAR)
);
CREATE TABLE sales.orders (
    id INTEGER,
    line INTEGER,
    customer_id INTEGER REFERENCES sales.customers (id),
    amount DOUBLE NOT NULL,
    PRIMARY KEY (id, line)
);
CREATE VIEW reporting.big_orders AS
    SELECT o.id AS order_id, c.email
    FROM sales.orders o JOIN sales.customers c ON c.id = o.customer_id
    WHERE o.amount > 100;
COMMENT ON TABLE sales.customers IS 'People who buy';
COMMENT ON COLUMN sales.customers.email IS 'Where receipts go';
COMMENT ON VIEW reporting.big_orders IS 'Orders over 100';
CREATE TABLE main.notes (body TEXT);
"""


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute(DDL)
    return path


def _tables(records: dict[str, list[Either]]) -> dict[str, Table]:
    return {t.fqn: t for t in records["tables"] if isinstance(t, Table)}


def test_a_duckdb_file_reads_schemas_tables_and_views(warehouse: Path, read_all: ReadAll) -> None:
    records = read_all(SqlSource(SqlConfig(url=f"duckdb:///{warehouse}")))
    assert [s.fqn for s in records["schemas"] if isinstance(s, DatabaseSchema)] == [
        "duckdb.warehouse.main",
        "duckdb.warehouse.reporting",
        "duckdb.warehouse.sales",
    ]
    assert sorted(_tables(records)) == [
        "duckdb.warehouse.main.notes",
        "duckdb.warehouse.reporting.big_orders",
        "duckdb.warehouse.sales.customers",
        "duckdb.warehouse.sales.orders",
    ]


def test_duckdb_columns_keep_types_comments_and_constraints(
    warehouse: Path, read_all: ReadAll
) -> None:
    customers = _tables(read_all(SqlSource(SqlConfig(url=f"duckdb:///{warehouse}"))))[
        "duckdb.warehouse.sales.customers"
    ]
    assert customers.description == "People who buy"
    columns = {c.name: c for c in customers.columns}
    assert [(c.name, c.data_type, c.ordinal_position) for c in customers.columns] == [
        ("id", "INT", 1),
        ("email", "VARCHAR", 2),
        ("tags", "ARRAY", 3),
        ("balance", "DECIMAL", 4),
        ("seen_at", "TIMESTAMPZ", 5),
        ("address", "STRUCT", 6),
    ]
    assert columns["email"].description == "Where receipts go"
    assert columns["email"].constraint == "NOT_NULL"
    assert columns["id"].constraint == "PRIMARY_KEY"
    assert columns["tags"].array_data_type == "VARCHAR"
    assert (columns["balance"].precision, columns["balance"].scale) == (12, 2)
    assert columns["address"].data_type_display == "struct(street varchar,city varchar)"
    assert {(c.constraint_type, tuple(c.columns)) for c in customers.table_constraints} == {
        ("PRIMARY_KEY", ("id",)),
        ("UNIQUE", ("email",)),
    }


def test_duckdb_foreign_keys_refer_to_column_fqns(warehouse: Path, read_all: ReadAll) -> None:
    orders = _tables(read_all(SqlSource(SqlConfig(url=f"duckdb:///{warehouse}"))))[
        "duckdb.warehouse.sales.orders"
    ]
    constraints = {c.constraint_type: c for c in orders.table_constraints}
    assert constraints["PRIMARY_KEY"].columns == ["id", "line"]
    assert constraints["FOREIGN_KEY"].columns == ["customer_id"]
    assert constraints["FOREIGN_KEY"].referred_columns == ["duckdb.warehouse.sales.customers.id"]


def test_a_duckdb_view_has_its_sql_comment_and_cross_schema_lineage(
    warehouse: Path, read_all: ReadAll
) -> None:
    records = read_all(SqlSource(SqlConfig(url=f"duckdb:///{warehouse}")))
    view = _tables(records)["duckdb.warehouse.reporting.big_orders"]
    assert view.table_type == "View"
    assert view.description == "Orders over 100"
    assert view.schema_definition is not None and "sales.orders" in view.schema_definition
    edges = {e.ends: e for e in records["lineage"] if isinstance(e, LineageEdge)}
    target = "duckdb.warehouse.reporting.big_orders"
    assert set(edges) == {
        ("duckdb.warehouse.sales.orders", target),
        ("duckdb.warehouse.sales.customers", target),
    }
    [email] = edges[("duckdb.warehouse.sales.customers", target)].columns_lineage
    assert (email.from_columns, email.to_column) == (
        ["duckdb.warehouse.sales.customers.email"],
        f"{target}.email",
    )


def test_the_duckdb_file_is_opened_read_only(warehouse: Path) -> None:
    reflector = DuckDBReflector.open(str(warehouse))
    with pytest.raises(duckdb.Error):
        reflector.conn.execute("CREATE TABLE sales.x (i INTEGER)")
    reflector.close()


class _FailingSchema:
    """A reflector whose one schema cannot be read, as when a user lacks rights on it."""

    def __init__(self, inner: DuckDBReflector, broken: str) -> None:
        self.inner, self.broken, self.dialect = inner, broken, inner.dialect

    def schemas(self) -> list[str]:
        return self.inner.schemas()

    def tables(self, schema: str, keep: NameFilter) -> list[RawTable]:
        if schema == self.broken:
            raise duckdb.CatalogException("permission denied for schema sales")
        return self.inner.tables(schema, keep)

    def close(self) -> None:
        self.inner.close()


def test_a_schema_that_fails_to_reflect_is_a_record_error_and_the_others_still_come(
    warehouse: Path, read_all: ReadAll
) -> None:
    reflector = _FailingSchema(DuckDBReflector.open(str(warehouse)), broken="sales")
    source = SqlSource(SqlConfig(url=f"duckdb:///{warehouse}"), reflector=reflector)
    records = read_all(source)["tables"]
    errors = [r for r in records if isinstance(r, RecordError)]
    assert [e.record for e in errors] == ["duckdb.warehouse.sales"]
    assert "permission denied" in errors[0].reason
    assert sorted(t.fqn for t in records if isinstance(t, Table)) == [
        "duckdb.warehouse.main.notes",
        "duckdb.warehouse.reporting.big_orders",
    ]
    source.close()


def test_schemas_and_tables_are_filtered_by_name(warehouse: Path, read_all: ReadAll) -> None:
    config = SqlConfig.model_validate(
        {
            "url": f"duckdb:///{warehouse}",
            "include": {"schemas": ["^(sales|reporting)$"]},
            "exclude": {"tables": ["^cust"]},
        }
    )
    records = read_all(SqlSource(config))
    assert [s.fqn for s in records["schemas"] if isinstance(s, DatabaseSchema)] == [
        "duckdb.warehouse.reporting",
        "duckdb.warehouse.sales",
    ]
    assert sorted(_tables(records)) == [
        "duckdb.warehouse.reporting.big_orders",
        "duckdb.warehouse.sales.orders",
    ]


def test_table_types_keep_only_the_listed_kinds(warehouse: Path, read_all: ReadAll) -> None:
    config = SqlConfig.model_validate({"url": f"duckdb:///{warehouse}", "table_types": ["View"]})
    assert sorted(_tables(read_all(SqlSource(config)))) == ["duckdb.warehouse.reporting.big_orders"]


def test_an_excluded_database_yields_only_the_service(warehouse: Path, read_all: ReadAll) -> None:
    config = SqlConfig.model_validate(
        {"url": f"duckdb:///{warehouse}", "exclude": {"databases": ["^ware"]}}
    )
    records = read_all(SqlSource(config))
    assert [len(records[s]) for s in ("services", "databases", "schemas", "tables")] == [1, 0, 0, 0]


def test_names_and_service_can_be_set_in_the_config(warehouse: Path, read_all: ReadAll) -> None:
    config = SqlConfig(url=f"duckdb:///{warehouse}", service_name="lake", database_name="dw")
    records = read_all(SqlSource(config))
    assert "lake.dw.sales.orders" in _tables(records)
    [service] = records["services"]
    assert isinstance(service, DatabaseService)
    assert (service.fqn, service.service_type) == ("lake", "CustomDatabase")


def _view_lineage(path: Path, *, whole_stream_first: bool) -> list[dict[str, Any]]:
    """The view lineage derived as the engine does, as each record is taken: right after it
    was read, or once the whole tables stream was read (as far as a read ahead can go)."""
    source = SqlSource(SqlConfig(url=f"duckdb:///{path}"))
    try:
        streams = {s.name: s for s in source.streams()}
        for name in ("services", "databases", "schemas", "tables"):
            assert streams[name].read is not None
        for name in ("services", "databases", "schemas"):
            list(streams[name].read(None))  # type: ignore[misc]
        records = mapped(streams["tables"].read(None))  # type: ignore[misc]
        if whole_stream_first:
            records = iter(list(records))
        return [
            edge.model_dump()
            for record in records
            if isinstance(record, Table)
            for edge in source.relationships(record)
        ]
    finally:
        source.close()


def test_a_views_lineage_is_the_same_however_far_the_tables_were_read_ahead(
    tmp_path: Path,
) -> None:
    # `alpha` is read before `beta`: when the view is read, `beta.wide` is not known yet, so
    # its star is not expanded; read ahead, the stream may have reached `beta` by the time the
    # engine derives the view's lineage, which must not change with that.
    path = tmp_path / "ahead.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE SCHEMA alpha; CREATE SCHEMA beta;"
            "CREATE TABLE beta.wide (x INTEGER, y INTEGER);"
            "CREATE VIEW alpha.everything AS SELECT * FROM beta.wide;"
        )

    one_by_one = _view_lineage(path, whole_stream_first=False)
    ahead = _view_lineage(path, whole_stream_first=True)

    assert len(one_by_one) == 1
    assert ahead == one_by_one
