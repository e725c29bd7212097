"""A view's SQL is parsed into the tables it reads and, where traceable, column lineage."""

from __future__ import annotations

import pytest

from syncer.connectors.sql.lineage import ColumnFlow, TableName, view_sources

A, B = TableName("a"), TableName("b")


def test_a_join_with_aliases_gives_both_tables_and_column_lineage() -> None:
    parsed = view_sources("select a.x, b.y as z from a join b on a.id = b.id", "sqlite")
    assert parsed is not None
    assert parsed.tables == (A, B)
    assert parsed.columns == (ColumnFlow("x", ((A, "x"),)), ColumnFlow("z", ((B, "y"),)))


def test_a_create_view_statement_is_read_like_its_query() -> None:
    parsed = view_sources("CREATE VIEW v AS SELECT t.c FROM s.t AS t", "duckdb")
    assert parsed is not None
    assert parsed.tables == (TableName("t", "s"),)
    assert parsed.columns == (ColumnFlow("c", ((TableName("t", "s"), "c"),)),)


def test_an_expression_keeps_every_column_it_reads_and_its_sql() -> None:
    parsed = view_sources("select sum(i.q * i.p) as total from items i", "sqlite")
    assert parsed is not None
    item = TableName("items")
    assert parsed.columns == (ColumnFlow("total", ((item, "q"), (item, "p")), "SUM(i.q * i.p)"),)


def test_unqualified_columns_resolve_when_there_is_one_source() -> None:
    parsed = view_sources("select x, y as z from a", "sqlite")
    assert parsed is not None
    assert [f.target for f in parsed.columns] == ["x", "z"]


def test_unqualified_columns_over_several_sources_are_skipped() -> None:
    parsed = view_sources("select x, b.y from a join b on a.id = b.id", "sqlite")
    assert parsed is not None
    assert parsed.columns == (ColumnFlow("y", ((B, "y"),)),)


def test_columns_are_traced_through_ctes_and_derived_tables() -> None:
    sql = (
        "with c as (select a.id, a.n from db.s.a)"
        " select c.id, d.m from c join (select b.m, b.id from b) d on d.id = c.id"
    )
    parsed = view_sources(sql, "postgresql")
    assert parsed is not None
    full = TableName("a", "s", "db")
    assert set(parsed.tables) == {full, B}
    assert parsed.columns == (ColumnFlow("id", ((full, "id"),)), ColumnFlow("m", ((B, "m"),)))


def test_stars_and_literals_give_no_column_lineage() -> None:
    parsed = view_sources("select *, 1 as one from a", "sqlite")
    assert parsed is not None
    assert parsed.tables == (A,)
    assert parsed.columns == ()


def test_a_union_gives_its_tables_without_column_lineage() -> None:
    parsed = view_sources("select x from a union all select x from b", "sqlite")
    assert parsed is not None
    assert parsed.tables == (A, B)


@pytest.mark.parametrize("sql", ["select from where", "CREATE VIEW v AS (((", "DROP TABLE a"])
def test_sql_that_cannot_be_parsed_gives_nothing_and_does_not_raise(sql: str) -> None:
    assert view_sources(sql, "sqlite") is None


# The columns the caller knows, by table as the SQL names it.
KNOWN: dict[TableName, list[str]] = {
    TableName("orders", "shop"): ["id", "customer_id", "status", "amount", "placed_at", "attrs"],
    TableName("customers", "shop"): ["id", "name", "Country"],
    TableName("order_totals", "shop"): ["customer_id", "total"],
}
ORDERS, CUSTOMERS = TableName("orders", "shop"), TableName("customers", "shop")


def _flows(sql: str, dialect: str = "postgresql") -> dict[str, tuple[list[str], str | None]]:
    """target -> (source columns as `table.column`, function), with the tables' columns known."""
    parsed = view_sources(sql, dialect, KNOWN.get)
    assert parsed is not None
    return {f.target: ([f"{t.name}.{c}" for t, c in f.sources], f.function) for f in parsed.columns}


def test_a_star_over_a_known_table_expands_to_its_columns() -> None:
    parsed = view_sources("create view v as select * from shop.customers", "postgresql", KNOWN.get)
    assert parsed is not None
    assert parsed.tables == (CUSTOMERS,)
    # Names come back as the dialect resolves them: PostgreSQL folds unquoted names to lower.
    assert parsed.columns == (
        ColumnFlow("id", ((CUSTOMERS, "id"),)),
        ColumnFlow("name", ((CUSTOMERS, "name"),)),
        ColumnFlow("country", ((CUSTOMERS, "country"),)),
    )


def test_stars_expand_through_import_ctes_and_a_final_select_star() -> None:
    sql = """
        with orders as (select * from shop.orders),
        customers as (select * from shop.customers),
        final as (
            select o.id as order_id, c.name as customer_name, o.amount * 100 as cents
            from orders o join customers c on c.id = o.customer_id
        )
        select * from final
    """
    assert _flows(sql) == {
        "order_id": (["orders.id"], None),
        "customer_name": (["customers.name"], None),
        "cents": (["orders.amount"], "o.amount * 100"),
    }


def test_a_qualified_star_and_unqualified_columns_over_a_join_resolve_with_known_columns() -> None:
    sql = "select o.*, name from shop.orders o join shop.customers c on c.id = o.customer_id"
    flows = _flows(sql)
    assert list(flows) == ["id", "customer_id", "status", "amount", "placed_at", "attrs", "name"]
    assert flows["name"] == (["customers.name"], None)
    assert flows["id"] == (["orders.id"], None)


def test_a_star_over_a_table_the_caller_does_not_know_gives_no_column_lineage() -> None:
    parsed = view_sources("select * from shop.unknown", "postgresql", KNOWN.get)
    assert parsed is not None
    assert parsed.tables == (TableName("unknown", "shop"),)
    assert parsed.columns == ()


def test_a_view_over_a_view_expands_the_inner_views_known_columns() -> None:
    # `order_totals` is a view the caller read before: its columns are known like a table's.
    assert _flows("select * from shop.order_totals where total > 0") == {
        "customer_id": (["order_totals.customer_id"], None),
        "total": (["order_totals.total"], None),
    }


def test_aggregates_with_filter_read_their_arguments_and_their_filter() -> None:
    sql = """
        select customer_id,
               count(*) filter (where status = 'paid') as paid_orders,
               sum(amount) filter (where status <> 'void') as spent
        from shop.orders group by customer_id
    """
    assert _flows(sql) == {
        "customer_id": (["orders.customer_id"], None),
        "paid_orders": (["orders.status"], "COUNT(*) FILTER(WHERE status = 'paid')"),
        "spent": (["orders.amount", "orders.status"], "SUM(amount) FILTER(WHERE status <> 'void')"),
    }


def test_jsonb_object_agg_reads_its_key_and_value_and_keeps_its_postgres_spelling() -> None:
    sql = """
        select o.customer_id, jsonb_object_agg(o.status, o.amount) as by_status
        from shop.orders o group by o.customer_id
    """
    assert _flows(sql)["by_status"] == (
        ["orders.status", "orders.amount"],
        "JSONB_OBJECT_AGG(o.status, o.amount)",
    )


def test_window_functions_read_their_argument_partition_and_order() -> None:
    sql = """
        select id,
               row_number() over (partition by customer_id order by placed_at) as nth,
               sum(amount) over (partition by customer_id) as customer_total
        from (select * from shop.orders) o
    """
    assert _flows(sql) == {
        "id": (["orders.id"], None),
        "nth": (
            ["orders.customer_id", "orders.placed_at"],
            "ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY placed_at)",
        ),
        "customer_total": (
            ["orders.customer_id", "orders.amount"],
            "SUM(amount) OVER (PARTITION BY customer_id)",
        ),
    }


def test_a_column_passed_on_from_a_cte_keeps_the_expression_it_is_computed_with() -> None:
    sql = """
        with totals as (select customer_id, sum(amount) as total from shop.orders group by 1)
        select * from totals
    """
    assert _flows(sql)["total"] == (["orders.amount"], "SUM(amount)")


def test_an_alias_used_later_in_the_select_list_is_traced_to_its_column() -> None:
    sql = "select o.amount as paid, paid * 2 as doubled from shop.orders o"
    assert _flows(sql) == {
        "paid": (["orders.amount"], None),
        "doubled": (["orders.amount"], "paid * 2"),
    }
