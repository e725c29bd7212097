"""An entity's difference between two runs, described field by field as the change log
describes one change."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from syncer.state import ChangeKind
from syncer.state.history import Difference, Version
from syncer.timetravel import diff, field_rows, to_document


def version(run_id: int, kind: ChangeKind, payload: Mapping[str, object]) -> Version:
    """The version of s.orders that run `run_id` wrote (its seq is the run id here)."""
    return Version(
        workflow="shop",
        stream="tables",
        key="s.orders",
        entity_type="table",
        run_id=run_id,
        seq=run_id,
        kind=kind,
        fingerprint=f"fp{run_id}",
        payload_json=orjson.dumps(payload).decode(),
        committed_at=None,
    )


BEFORE = {"description": "orders", "columns": [{"name": "id", "dataType": "INT"}]}
AFTER = {
    "columns": [{"name": "id", "dataType": "BIGINT"}, {"name": "note", "dataType": "TEXT"}],
    "owner": "sales",
}


def test_an_updated_entity_differs_field_by_field_from_old_to_new() -> None:
    entity = diff(Difference(version(1, "created", BEFORE), version(3, "updated", AFTER)))

    assert (entity.kind, entity.before_run, entity.after_run) == ("updated", 1, 3)
    assert field_rows(entity) == [
        ("columns.note", None, {"name": "note", "dataType": "TEXT"}),
        ("owner", None, "sales"),
        ("columns.id.dataType", "INT", "BIGINT"),
        ("description", "orders", None),
    ]


def test_a_created_or_deleted_entity_differs_as_a_whole() -> None:
    created = diff(Difference(None, version(2, "created", AFTER)))
    deleted = diff(Difference(version(1, "created", BEFORE), version(2, "deleted", BEFORE)))

    assert (created.kind, created.before_run, field_rows(created)) == ("created", None, [])
    assert (deleted.kind, deleted.after_run, field_rows(deleted)) == ("deleted", 2, [])


def test_a_restored_entity_differs_from_the_version_it_was_deleted_in() -> None:
    entity = diff(Difference(version(2, "deleted", BEFORE), version(4, "restored", BEFORE)))

    assert (entity.kind, field_rows(entity)) == ("restored", [])


def test_a_difference_as_json_names_its_fields_as_openmetadata_does() -> None:
    entity = diff(Difference(version(1, "created", BEFORE), version(3, "updated", AFTER)))
    document = to_document(entity)

    assert document["change"] == "updated" and document["fqn"] == "s.orders"
    assert document["fieldsUpdated"] == [
        {"name": "columns.id.dataType", "oldValue": "INT", "newValue": "BIGINT"}
    ]
    assert [f["name"] for f in document["fieldsAdded"]] == ["columns.note", "owner"]
    assert document["fieldsDeleted"] == [
        {"name": "description", "oldValue": "orders", "newValue": None}
    ]
