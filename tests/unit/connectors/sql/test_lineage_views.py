"""A view's `select *` expands to the columns the sql source reflected for what it reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from syncer.connectors.sql import SqlConfig, SqlSource
from syncer.models import LineageEdge
from tests.unit.connectors.sql.conftest import read_streams

PREFIX = "sqlite.stars.main."


def _edges(tmp_path: Path) -> dict[tuple[str, str], list[tuple[list[str], str, str | None]]]:
    path = tmp_path / "stars.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            create table customers (id integer primary key, name text, Country text);
            create table orders (id integer primary key, customer_id integer, amount real);
            create view a_customers as select * from customers;
            create view b_named as
                with c as (select * from a_customers) select id as customer_id, name from c;
            create view c_orders as
                select o.*, c.name from orders o join customers c on c.id = o.customer_id;
            """
        )
    db.close()
    source = SqlSource(SqlConfig(url=f"sqlite:///{path}"))
    try:
        records = read_streams(source)
    finally:
        source.close()
    return {
        (
            e.from_entity.fully_qualified_name.removeprefix(PREFIX),
            e.to_entity.fully_qualified_name.removeprefix(PREFIX),
        ): [
            (
                [f.removeprefix(PREFIX) for f in c.from_columns],
                c.to_column.removeprefix(PREFIX),
                c.function,
            )
            for c in sorted(e.columns_lineage, key=lambda c: c.to_column)
        ]
        for e in records["lineage"]
        if isinstance(e, LineageEdge)
    }


def test_select_star_views_and_views_over_views_get_column_lineage(tmp_path: Path) -> None:
    edges = _edges(tmp_path)
    assert sorted(edges) == [
        ("a_customers", "b_named"),
        ("customers", "a_customers"),
        ("customers", "c_orders"),
        ("orders", "c_orders"),
    ]
    # The reflected spelling comes back, whatever case the expansion used.
    assert edges[("customers", "a_customers")] == [
        (["customers.Country"], "a_customers.Country", None),
        (["customers.id"], "a_customers.id", None),
        (["customers.name"], "a_customers.name", None),
    ]
    assert edges[("a_customers", "b_named")] == [
        (["a_customers.id"], "b_named.customer_id", None),
        (["a_customers.name"], "b_named.name", None),
    ]
    assert edges[("orders", "c_orders")] == [
        (["orders.amount"], "c_orders.amount", None),
        (["orders.customer_id"], "c_orders.customer_id", None),
        (["orders.id"], "c_orders.id", None),
    ]
    assert edges[("customers", "c_orders")] == [(["customers.name"], "c_orders.name", None)]
