"""The spool: rows parked in the state's scratch space come back in pages, in the order they
were put, the last row of a key only, and never reach the state file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from syncer.state import StateStore


def rows(*pairs: tuple[str, str]) -> dict[str, list[str]]:
    return {"key": [k for k, _ in pairs], "payload": [p for _, p in pairs]}


def test_spooled_rows_come_back_in_pages_in_order_with_the_last_of_each_key(
    store: StateStore,
) -> None:
    store.spool("lineage", rows(("a", "1"), ("b", "1"), ("c", "1")))
    store.spool("lineage", rows(("a", "2"), ("d", "1")))
    pages = list(store.spooled("lineage", 2))
    assert pages == [[("b", "1"), ("c", "1")], [("a", "2"), ("d", "1")]]
    assert list(store.spooled("lineage", 2)) == []  # taken once, then gone


def test_a_spool_never_reaches_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    store = StateStore.open(path, version="test")
    store.spool("lineage", rows(("a", "1")))
    store.close()
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert not [n for n in names if n.startswith("spool")]


def test_an_empty_spool_yields_nothing(store: StateStore) -> None:
    assert list(store.spooled("nothing", 10)) == []


def test_spooled_columns_keep_their_types_even_when_empty_or_null(store: StateStore) -> None:
    types = {"depends_on": "VARCHAR[]", "append_only": "BOOLEAN", "size": "BIGINT"}
    columns: dict[str, list[Any]] = {
        "key": ["a", "b", "c"],
        "depends_on": [["x", "y"], [], None],
        "append_only": [True, False, None],
        "size": [None, None, None],
    }
    store.spool("typed", columns, types)
    assert list(store.spooled("typed", 10)) == [
        [("a", ["x", "y"], True, None), ("b", [], False, None), ("c", None, None, None)]
    ]
