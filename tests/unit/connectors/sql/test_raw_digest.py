"""A table's raw digest covers every field a reflector reads, nested ones included."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import pytest

from syncer.connectors.sql.reflect.model import (
    ColumnRows,
    RawColumn,
    RawForeignKey,
    RawTable,
    plain,
)

COLUMN = RawColumn(name="id", type="INTEGER", nullable=False, ordinal=1, default="0", comment="c")
KEY = RawForeignKey(("id",), "main", "parent", ("id",), name="fk")
TABLE = RawTable(
    name="t",
    comment="a table",
    definition=None,
    columns=[COLUMN],
    primary_key=("id",),
    unique=[("id",)],
    foreign_keys=[KEY],
)


def _other(value: Any) -> Any:
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, (tuple, list)):
        return type(value)()
    return f"{value}-changed"


@pytest.mark.parametrize("name", [f.name for f in fields(RawColumn)])
def test_any_change_of_a_column_changes_the_digested_rows(name: str) -> None:
    column = replace(COLUMN, **{name: _other(getattr(COLUMN, name))})
    assert plain(replace(TABLE, columns=[column])) != plain(TABLE)


@pytest.mark.parametrize("name", [f.name for f in fields(RawForeignKey)])
def test_any_change_of_a_foreign_key_changes_the_digested_rows(name: str) -> None:
    key = replace(KEY, **{name: _other(getattr(KEY, name))})
    assert plain(replace(TABLE, foreign_keys=[key])) != plain(TABLE)


@pytest.mark.parametrize("name", [f.name for f in fields(RawTable) if f.name != "column_rows"])
def test_any_change_of_a_table_changes_the_digested_rows(name: str) -> None:
    changed = replace(TABLE, **{name: _other(getattr(TABLE, name))})
    assert plain(changed) != plain(TABLE)


def _deferred(rows: tuple[Any, ...]) -> RawTable:
    return replace(
        TABLE,
        columns=[],
        column_rows=ColumnRows(rows, ("id",), lambda table: table.columns.append(COLUMN)),
    )


def test_columns_left_as_driver_rows_are_digested_as_those_rows() -> None:
    row = ("t", 0, "id", "INTEGER", 1, "0", 1)
    assert plain(_deferred((row,))) != plain(_deferred(((*row[:3], "TEXT", *row[4:]),)))
    assert plain(_deferred((row,))) == plain(_deferred((row,)))


def test_columns_left_as_rows_are_built_when_the_table_is_completed() -> None:
    table = _deferred((("t", 0, "id", "INTEGER", 1, "0", 1),))
    assert table.column_names() == ("id",) and table.columns == []

    assert table.complete().columns == [COLUMN]
    assert table.column_rows is None and table.column_names() == ("id",)
