"""`scanning`: Python columns visible to SQL as a temp table for a block, typed as asked, gone
after it, and never in the way of the error that aborted a transaction."""

from __future__ import annotations

import duckdb
import pytest

from syncer.state import scanning


@pytest.fixture
def connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_columns_are_a_table_of_rows_in_order_typed_as_asked(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    columns = {
        "i": range(3),
        "key": ("a", None, "c"),
        "deps": [["x"], [], None],
        "seq": [7, None, 9],
    }
    with scanning(connection, "rows", columns, {"deps": "VARCHAR[]", "seq": "BIGINT"}):
        rows = connection.execute("SELECT * FROM rows").fetchall()
        types = connection.execute("SELECT column_type FROM (DESCRIBE rows)").fetchall()
    assert rows == [(0, "a", ["x"], 7), (1, None, [], None), (2, "c", None, 9)]
    assert [t for (t,) in types] == ["BIGINT", "VARCHAR", "VARCHAR[]", "BIGINT"]


def test_empty_or_null_columns_keep_their_types(connection: duckdb.DuckDBPyConnection) -> None:
    with scanning(connection, "empty", {"key": [], "n": []}, {"n": "BIGINT"}):
        assert connection.execute("SELECT count(*) FROM empty").fetchall() == [(0,)]
    with scanning(connection, "nulls", {"key": [None, None]}):
        assert connection.execute("SELECT key || 'x' FROM nulls").fetchall() == [(None,), (None,)]


def test_the_table_is_gone_after_the_block(connection: duckdb.DuckDBPyConnection) -> None:
    with scanning(connection, "gone", {"key": ["a"]}):
        pass
    names = connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert ("gone",) not in names


def test_columns_of_different_lengths_are_refused(connection: duckdb.DuckDBPyConnection) -> None:
    with (
        pytest.raises(ValueError, match="columns of uneven differ in length"),
        scanning(connection, "uneven", {"a": ["x"], "b": ["x", "y"]}),
    ):
        pass


def test_the_error_that_aborted_a_transaction_is_the_one_raised(
    connection: duckdb.DuckDBPyConnection,
) -> None:
    connection.execute("CREATE TABLE target (key VARCHAR PRIMARY KEY)")
    connection.execute("BEGIN TRANSACTION")
    with (
        pytest.raises(duckdb.ConstraintException),
        scanning(connection, "twice", {"key": ["a", "a"]}),
    ):
        connection.execute("INSERT INTO target SELECT key FROM twice")
    connection.execute("ROLLBACK")
    names = connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    assert names == [("target",)]
