"""Scratch space for rows that must wait: temp tables of the state's connection, which spill to
disk beyond the memory limit and never reach the state file.

A derived stream's rows wait here until every read stream is committed; they are read back in
pages, the last row of each key winning, in the order they were put.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pyarrow as pa

from syncer.state.connection import scanning


def put(connection: duckdb.DuckDBPyConnection, name: str, rows: pa.Table) -> None:
    """Append `rows` (any columns, one of them `key`) to the spool `name`."""
    if rows.num_rows == 0:
        return
    table = _table(name)
    exists = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [table]
    ).fetchall()[0][0]
    start = 0
    if exists:
        start = int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
    numbered = rows.append_column("n", pa.array(range(start, start + rows.num_rows), pa.int64()))
    with scanning(connection, "spool_rows", numbered):
        if exists:
            connection.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM spool_rows')
        else:
            connection.execute(f'CREATE TEMP TABLE "{table}" AS SELECT * FROM spool_rows')


def take(connection: duckdb.DuckDBPyConnection, name: str, size: int) -> Iterator[pa.Table]:
    """The spool's rows in pages of `size`, the last of each key only, then the spool is gone.

    Pages are read by position, not through one open result: the caller runs its own
    statements on the same connection between pages.
    """
    table = _table(name)
    exists = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [table]
    ).fetchall()[0][0]
    if not exists:
        return
    latest = f"{table}:latest"
    connection.execute(
        f'CREATE OR REPLACE TEMP TABLE "{latest}" AS SELECT * EXCLUDE (n), '
        "row_number() OVER (ORDER BY n) AS i FROM ("
        f'SELECT * FROM "{table}" QUALIFY row_number() OVER (PARTITION BY key ORDER BY n DESC) = 1)'
    )
    connection.execute(f'DROP TABLE "{table}"')
    try:
        done = 0
        while True:
            page = connection.sql(
                f'SELECT * EXCLUDE (i) FROM "{latest}" WHERE i > $done AND i <= $upto ORDER BY i',
                params={"done": done, "upto": done + size},
            ).to_arrow_table()
            if page is None or page.num_rows == 0:
                return
            done += page.num_rows
            yield page
    finally:
        connection.execute(f'DROP TABLE IF EXISTS "{latest}"')


def _table(name: str) -> str:
    return "spool:" + name.replace('"', "")
