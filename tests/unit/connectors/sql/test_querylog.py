"""Logged statements are redacted of every literal, and those that move data give lineage."""

from __future__ import annotations

import re

import pytest

from syncer.connectors.sql.lineage import ColumnFlow, TableName
from syncer.connectors.sql.querylog import StatementLineage, fingerprint, lineage_of, redact

PG = "postgresql"
T = TableName("t", "public")
S = TableName("s", "public")

# Statements and the values in them that must not survive redaction.
SECRETS = [
    (
        "INSERT INTO people (email, born, score) VALUES"
        " ('ann@example.com', DATE '1990-04-01', 42.5), ('bob@example.com', '1985-12-31', -7)",
        ["ann@example.com", "1990-04-01", "42.5", "bob@example.com", "1985-12-31", "7"],
    ),
    (
        "SELECT id FROM people WHERE email = 'ann@example.com' AND born > '2001-02-03'"
        " AND salary >= 123456 AND note LIKE E'%secret%' AND tag = $$dollar$$",
        ["ann@example.com", "2001-02-03", "123456", "secret", "dollar"],
    ),
    (
        "UPDATE people SET tier = CASE WHEN spend > 9999 THEN 'gold' ELSE 'basic@x.org' END"
        " FROM spend s WHERE s.id = people.id AND s.at < TIMESTAMP '2024-05-06 07:08:09'",
        ["9999", "gold", "basic@x.org", "2024-05-06", "07:08:09"],
    ),
    (
        "CREATE TABLE vip AS SELECT id, 'carol@example.com' AS contact, 3.14 * x AS y"
        " FROM people /* about carol@example.com */ WHERE born = '1970-01-01'",
        ["carol@example.com", "3.14", "1970-01-01"],
    ),
]


@pytest.mark.parametrize(("sql", "secrets"), SECRETS, ids=["values", "where", "case", "ctas"])
def test_redaction_removes_every_literal_and_comment(sql: str, secrets: list[str]) -> None:
    redacted = redact(sql, PG)
    for secret in secrets:
        assert secret not in redacted
    assert "?" in redacted


def test_redaction_keeps_the_statements_shape() -> None:
    sql = "INSERT INTO t (a, b) SELECT s.x, 'z@y.com' FROM s WHERE s.n = 5 AND s.k = $1"
    assert redact(sql, PG) == "INSERT INTO t (a, b) SELECT s.x, ? FROM s WHERE s.n = ? AND s.k = ?"


def test_an_unparsable_statement_is_still_redacted_token_by_token() -> None:
    redacted = redact("INSERT INTO t SELEC (( 'ann@example.com' 42", PG)
    assert "ann@example.com" not in redacted
    assert not re.search(r"\d", redacted)
    assert "ann" not in redact("INSERT INTO t SELEC (( 'ann@example.com", PG)


def test_a_fingerprint_is_short_stable_and_blind_to_literals() -> None:
    one = fingerprint("UPDATE t SET a = 1 FROM s WHERE t.id = s.id AND s.e = 'a@b.c'")
    two = fingerprint("update t set a = 2 from s where t.id = s.id and s.e = 'x@y.z'")
    assert one == two
    assert len(one) == 16
    assert fingerprint("UPDATE t SET b = 1 FROM s") != one


def test_insert_select_maps_the_column_list_by_position() -> None:
    sql = "INSERT INTO t (a, b) SELECT s.x, upper(s.y) FROM s JOIN other.u ON u.id = s.id"
    assert lineage_of(sql, PG, "public") == [
        StatementLineage(
            T,
            (S, TableName("u", "other")),
            (ColumnFlow("a", ((S, "x"),)), ColumnFlow("b", ((S, "y"),), "UPPER(s.y)")),
        )
    ]


def test_insert_without_a_column_list_gives_table_lineage_only() -> None:
    assert lineage_of("INSERT INTO t SELECT * FROM s", PG, "public") == [
        StatementLineage(T, (S,), ())
    ]


def test_a_cte_before_insert_is_followed_to_its_tables() -> None:
    sql = "WITH c AS (SELECT k FROM src.kv) INSERT INTO t (a) SELECT k FROM c"
    kv = TableName("kv", "src")
    assert lineage_of(sql, PG, "public") == [
        StatementLineage(T, (kv,), (ColumnFlow("a", ((kv, "k"),)),))
    ]


def test_create_table_as_names_columns_after_the_select_list() -> None:
    sql = "CREATE TABLE mart.t AS SELECT s.id, s.n * 2 AS twice, 'x' AS lit FROM s WHERE s.n > 1"
    target = TableName("t", "mart")
    assert lineage_of(sql, PG, "public") == [
        StatementLineage(
            target,
            (S,),
            (ColumnFlow("id", ((S, "id"),)), ColumnFlow("twice", ((S, "n"),), "s.n * ?")),
        )
    ]


def test_update_from_traces_each_assignment() -> None:
    sql = "UPDATE t SET a = s.x, b = CASE WHEN s.y > 5 THEN 'k' END FROM s WHERE t.id = s.id"
    assert lineage_of(sql, PG, "public") == [
        StatementLineage(
            T,
            (S,),
            (
                ColumnFlow("a", ((S, "x"),)),
                ColumnFlow("b", ((S, "y"),), "CASE WHEN s.y > ? THEN ? END"),
            ),
        )
    ]


def test_merge_traces_its_update_and_insert_branches() -> None:
    sql = (
        "MERGE INTO t USING s ON t.id = s.id"
        " WHEN MATCHED THEN UPDATE SET a = s.x"
        " WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.z)"
    )
    assert lineage_of(sql, PG, "public") == [
        StatementLineage(
            T, (S,), (ColumnFlow("a", ((S, "x"), (S, "z"))), ColumnFlow("id", ((S, "id"),)))
        )
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM s",
        "INSERT INTO t VALUES (1, 'a')",
        "UPDATE t SET a = 1 WHERE id = 2",
        "DELETE FROM t",
        "CREATE TABLE t (id int)",
    ],
)
def test_statements_that_move_no_data_between_tables_give_none(sql: str) -> None:
    assert lineage_of(sql, PG, "public") == []


def test_an_unparsable_statement_gives_none() -> None:
    assert lineage_of("INSERT INTO t SELEC (( FROM", PG, "public") is None
