"""The differ: what a row changes in the state, given what the state knows of its key."""

from __future__ import annotations

import orjson

from syncer.differ import classify, row_of
from syncer.models import Column, Table, TestCaseResult
from syncer.state import Known
from syncer.steps import Cursor, Stream

TABLES = Stream("tables", "table", read=list, cursor=Cursor("updated_at"))


def orders(*columns: str) -> Table:
    return Table(
        name="orders",
        database_schema="svc.db.s",
        columns=[Column(name=c, data_type="INT") for c in columns],
    )


def test_a_row_carries_the_key_parent_payload_and_cursor_value() -> None:
    row = row_of(orders("id"), TABLES)
    assert (row.key, row.entity_type, row.parent_key) == ("svc.db.s.orders", "table", "svc.db.s")
    assert orjson.loads(row.payload)["columns"] == [{"name": "id", "dataType": "INT", "tags": []}]
    assert row.cursor is None  # the table carries no updated_at


def test_a_key_the_state_never_held_is_created() -> None:
    assert classify(row_of(orders("id"), TABLES), Known(None, False, None)) == ("created", [], None)


def test_a_changed_fingerprint_is_an_update_with_the_fields_named() -> None:
    old = row_of(orders("id"), TABLES)
    new = row_of(orders("id", "total"), TABLES)
    kind, fields, description = classify(new, Known(old.fingerprint, False, old.payload))
    assert (kind, fields) == ("updated", ["columns.total"])
    assert description is not None
    assert orjson.loads(description)["fieldsAdded"][0]["name"] == "columns.total"


def test_a_deleted_key_that_comes_back_is_restored() -> None:
    row = row_of(orders("id"), TABLES)
    kind, _, _ = classify(row, Known(row.fingerprint, True, row.payload))
    assert kind == "restored"


def test_an_append_only_entity_is_never_updated() -> None:
    results = Stream("results", "testCaseResult", read=list)
    row = row_of(TestCaseResult(test_case="t", timestamp=1, test_case_status="Failed"), results)
    assert classify(row, Known("another-fingerprint", False, "{}")) == (None, [], None)
