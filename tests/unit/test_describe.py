"""Change descriptions name every field that was added, updated or deleted, like OpenMetadata."""

from __future__ import annotations

from typing import Any

from syncer.describe import describe
from syncer.steps import FieldChange

OLD: dict[str, Any] = {
    "name": "orders",
    "description": "Orders",
    "columns": [
        {"name": "id", "dataType": "INT"},
        {"name": "email", "dataType": "VARCHAR", "dataLength": 100},
    ],
    "tags": [{"tagFQN": "Tier.Tier1"}],
}


def test_equal_payloads_have_no_changes() -> None:
    change = describe(OLD, dict(OLD))
    assert change.names == []


def test_an_added_top_level_field_is_reported_with_its_value() -> None:
    change = describe(OLD, {**OLD, "displayName": "All orders"})
    assert change.fields_added == (FieldChange("displayName", None, "All orders"),)
    assert change.fields_updated == () and change.fields_deleted == ()


def test_a_removed_field_is_reported_with_its_old_value() -> None:
    new = {k: v for k, v in OLD.items() if k != "description"}
    change = describe(OLD, new)
    assert change.fields_deleted == (FieldChange("description", "Orders", None),)
    assert change.names == ["description"]


def test_an_updated_field_has_old_and_new_values() -> None:
    change = describe(OLD, {**OLD, "description": "Customer orders"})
    assert change.fields_updated == (FieldChange("description", "Orders", "Customer orders"),)


def test_a_column_is_addressed_by_its_name() -> None:
    columns = [OLD["columns"][0], {"name": "email", "dataType": "TEXT", "dataLength": 100}]
    change = describe(OLD, {**OLD, "columns": columns})
    assert change.fields_updated == (FieldChange("columns.email.dataType", "VARCHAR", "TEXT"),)


def test_a_nested_field_added_to_a_column_is_named_by_its_path() -> None:
    columns = [{**OLD["columns"][0], "description": "key"}, OLD["columns"][1]]
    change = describe(OLD, {**OLD, "columns": columns})
    assert change.fields_added == (FieldChange("columns.id.description", None, "key"),)


def test_added_and_dropped_columns_are_whole_items() -> None:
    columns = [OLD["columns"][0], {"name": "total", "dataType": "DECIMAL"}]
    change = describe(OLD, {**OLD, "columns": columns})
    assert change.fields_added == (
        FieldChange("columns.total", None, {"name": "total", "dataType": "DECIMAL"}),
    )
    assert change.fields_deleted == (FieldChange("columns.email", OLD["columns"][1], None),)


def test_columns_added_to_a_table_that_had_none_are_each_named() -> None:
    change = describe({**OLD, "columns": []}, OLD)
    assert change.names == ["columns.email", "columns.id"]


def test_a_list_of_unnamed_items_is_reported_as_one_field() -> None:
    tags = [{"tagFQN": "Tier.Tier1"}, {"tagFQN": "PII.Email"}]
    change = describe(OLD, {**OLD, "tags": tags})
    assert change.fields_updated == (FieldChange("tags", OLD["tags"], tags),)


def test_a_changed_type_of_value_is_an_update() -> None:
    change = describe({"a": {"b": 1}}, {"a": [1]})
    assert change.fields_updated == (FieldChange("a", {"b": 1}, [1]),)


def test_reordered_columns_are_reported_as_a_change_of_columns() -> None:
    # Column order is part of a table (its fingerprint changes), so an update must say what.
    change = describe(OLD, {**OLD, "columns": OLD["columns"][::-1]})
    assert change.names == ["columns"]


def test_names_list_added_then_updated_then_deleted() -> None:
    new = {"name": "orders", "description": "New", "displayName": "O", "columns": OLD["columns"]}
    assert describe(OLD, new).names == ["displayName", "description", "tags"]


def test_a_column_moved_while_another_is_added_is_reported_as_reordered() -> None:
    columns = [OLD["columns"][1], {"name": "total", "dataType": "DECIMAL"}, OLD["columns"][0]]
    change = describe(OLD, {**OLD, "columns": columns})
    assert change.fields_updated == (FieldChange("columns", ["id", "email"], ["email", "id"]),)
    assert change.names == ["columns.total", "columns"]
