"""Scratch space for rows that must wait: temp tables of the state's connection, which spill to
disk beyond the memory limit and never reach the state file.

A derived stream's rows wait here until every read stream is committed; they are read back in
pages, the last row of each key winning, in the order they were put.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb

from syncer.state.connection import scanning, temp_table


def put(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    rows: Mapping[str, Sequence[Any]],
    types: Mapping[str, str] | None = None,
) -> None:
    """Append `rows` (columns by name, any of them, one of them `key`; VARCHAR unless `types`
    says otherwise, as for `scanning`) to the spool `name`. Every put gives the same columns,
    in the same order."""
    count = len(next(iter(rows.values()), ()))
    if count == 0:
        return
    table = _table(name)
    exists = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [table]
    ).fetchall()[0][0]
    start = 0
    if exists:
        start = int(connection.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0])
    numbered = {**rows, "n": range(start, start + count)}
    with scanning(connection, "spool_rows", numbered, types):
        if exists:
            connection.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM spool_rows')
        else:
            connection.execute(f'CREATE TEMP TABLE "{table}" AS SELECT * FROM spool_rows')


def take(
    connection: duckdb.DuckDBPyConnection, name: str, size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The spool's rows in pages of `size`, the last of each key only, then the spool is gone.
    A row is a tuple of its columns in the order they were put.

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
    last_of_each_key = (
        "SELECT * EXCLUDE (n), row_number() OVER (ORDER BY n) AS i FROM ("
        f'SELECT * FROM "{table}" QUALIFY row_number() OVER (PARTITION BY key ORDER BY n DESC) = 1)'
    )
    with temp_table(connection, latest, last_of_each_key):
        connection.execute(f'DROP TABLE "{table}"')
        done = 0
        while True:
            page = connection.execute(
                f'SELECT * EXCLUDE (i) FROM "{latest}" WHERE i > $done AND i <= $upto ORDER BY i',
                {"done": done, "upto": done + size},
            ).fetchall()
            if not page:
                return
            done += len(page)
            yield page


def _table(name: str) -> str:
    return "spool:" + name.replace('"', "")
