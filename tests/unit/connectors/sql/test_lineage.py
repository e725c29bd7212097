"""A view's SQL is parsed into the tables it reads and, where traceable, column lineage."""

from __future__ import annotations

import pytest

from connectors.sql.lineage import ColumnFlow, TableName, view_sources

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
