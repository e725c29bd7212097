"""A committed change becomes an OpenMetadata ChangeEvent: stable ids, OpenMetadata's event types
and versions, field changes named like `columns.email.dataType`, and filters on all three."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from syncer.differ import Row, classify
from syncer.errors import ConfigError
from syncer.events import (
    EVENT_TYPES,
    EventFilter,
    History,
    build_event,
    event_id,
    event_selection,
    event_type,
    parse_time,
    version,
)
from syncer.state import Batch, ChangeRow, Selection, StateStore
from syncer.state.store import Known
from syncer.steps import Change, ChangeKind

COMMITTED = datetime(2024, 5, 1, 12, 0, 3, 250_000, tzinfo=UTC)
FQN = "svc.db.sch.customers"
# Every property of OpenMetadata's ChangeEvent (openmetadata-spec type/changeEvent.json).
OM_PROPERTIES = {
    "id",
    "eventType",
    "entityType",
    "entityId",
    "domains",
    "entityFullyQualifiedName",
    "previousVersion",
    "currentVersion",
    "userName",
    "timestamp",
    "changeDescription",
    "incrementalChangeDescription",
    "entity",
}


def customers(email_type: str = "VARCHAR", **extra: Any) -> dict[str, Any]:
    return {
        "name": "customers",
        "databaseSchema": "svc.db.sch",
        "columns": [
            {"name": "id", "dataType": "INT"},
            {"name": "email", "dataType": email_type},
        ],
        **extra,
    }


def described(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The description the differ stores in the change log for `old` becoming `new`."""
    row = Row(
        FQN, "table", "svc.db.sch", ("svc.db.sch",), "fp2", orjson.dumps(new).decode(), None, False
    )
    _, _, description = classify(row, Known("fp1", False, orjson.dumps(old).decode()))
    return description


def change(
    kind: ChangeKind = "created",
    *,
    seq: int = 7,
    payload: dict[str, Any] | None = None,
    description: str | None = None,
    entity_type: str = "table",
    key: str = FQN,
    workflow: str = "shop",
    committed_at: datetime | None = COMMITTED,
) -> Change:
    return Change(
        seq=seq,
        run_id=1,
        workflow=workflow,
        stream="tables",
        key=key,
        entity_type=entity_type,
        kind=kind,
        fingerprint=None if kind == "deleted" else "fp2",
        old_fingerprint=None if kind == "created" else "fp1",
        changed_fields=[],
        payload_json=orjson.dumps(payload or customers()).decode(),
        description_json=description,
        committed_at=committed_at,
    )


# --- ids ----------------------------------------------------------------------------------------


def test_an_event_id_is_a_uuid5_of_workflow_and_seq_and_the_same_every_time() -> None:
    first = event_id("shop", 7)

    assert uuid.UUID(first).version == 5
    assert event_id("shop", 7) == first
    assert build_event(change(seq=7))["id"] == first
    assert len({first, event_id("shop", 8), event_id("other", 7)}) == 3


# --- types --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "entity_type", "expected"),
    [
        ("created", "table", "entityCreated"),
        ("updated", "table", "entityUpdated"),
        ("deleted", "table", "entitySoftDeleted"),
        ("restored", "table", "entityRestored"),
        ("created", "lineage", "entityLineageAdded"),
        ("updated", "lineage", "entityLineageAdded"),
        ("restored", "lineage", "entityLineageAdded"),
        ("deleted", "lineage", "entityLineageDeleted"),
    ],
)
def test_each_kind_of_change_has_its_event_type(
    kind: ChangeKind, entity_type: str, expected: str
) -> None:
    assert event_type(change(kind, entity_type=entity_type)) == expected


# --- shape --------------------------------------------------------------------------------------


def test_a_creation_carries_the_entity_version_0_1_and_no_change_description() -> None:
    event = build_event(change("created"), History(1))

    assert event == {
        "id": event_id("shop", 7),
        "eventType": "entityCreated",
        "entityType": "table",
        "entityFullyQualifiedName": FQN,
        "previousVersion": 0.1,
        "currentVersion": 0.1,
        "userName": "shop",
        "timestamp": 1714564803250,
        "entity": customers(),
    }
    assert set(event) <= OM_PROPERTIES
    assert "entityId" not in event  # syncer does not know OpenMetadata's ids


def test_an_update_names_nested_fields_and_keeps_scalars_as_they_are() -> None:
    old, new = customers(), customers("TEXT", description="who buys")
    event = build_event(change("updated", payload=new, description=described(old, new)), History(2))

    assert event["eventType"] == "entityUpdated"
    assert (event["previousVersion"], event["currentVersion"]) == (0.1, 0.2)
    assert event["changeDescription"] == {
        "fieldsAdded": [{"name": "description", "newValue": "who buys"}],
        "fieldsUpdated": [
            {"name": "columns.email.dataType", "oldValue": "VARCHAR", "newValue": "TEXT"}
        ],
        "fieldsDeleted": [],
    }
    assert event["entity"] == new


def test_lists_and_objects_in_field_changes_are_json_text_as_openmetadata_sends_them() -> None:
    tag = {"tagFQN": "PII.Sensitive", "source": "Classification"}
    old, new = customers(), customers(tags=[tag])
    event = build_event(change("updated", payload=new, description=described(old, new)))

    (added,) = event["changeDescription"]["fieldsAdded"]
    assert added["name"] == "tags"
    assert isinstance(added["newValue"], str)
    assert orjson.loads(added["newValue"]) == [tag]


def test_a_deletion_is_soft_with_deleted_going_from_false_to_true() -> None:
    event = build_event(change("deleted"), History(3))

    assert event["eventType"] == "entitySoftDeleted"
    assert (event["previousVersion"], event["currentVersion"]) == (0.2, 0.3)
    assert event["changeDescription"]["fieldsUpdated"] == [
        {"name": "deleted", "oldValue": False, "newValue": True}
    ]
    assert event["entity"] == customers()  # the last state synced


def test_a_restore_says_deleted_went_back_to_false_and_what_changed_meanwhile() -> None:
    old, new = customers(), customers("TEXT")
    event = build_event(change("restored", payload=new, description=described(old, new)))

    assert event["eventType"] == "entityRestored"
    assert event["changeDescription"]["fieldsUpdated"] == [
        {"name": "deleted", "oldValue": True, "newValue": False},
        {"name": "columns.email.dataType", "oldValue": "VARCHAR", "newValue": "TEXT"},
    ]


def test_a_lineage_edge_keeps_its_fqn_and_entity() -> None:
    edge = {
        "fromEntity": {"type": "table", "fullyQualifiedName": "svc.db.sch.a"},
        "toEntity": {"type": "table", "fullyQualifiedName": "svc.db.sch.b"},
        "source": "ViewLineage",
    }
    event = build_event(
        change("created", entity_type="lineage", key="svc.db.sch.a->svc.db.sch.b", payload=edge)
    )

    assert event["eventType"] == "entityLineageAdded"
    assert event["entityFullyQualifiedName"] == "svc.db.sch.a->svc.db.sch.b"
    assert event["entity"] == edge


def test_an_entity_in_a_domain_names_it_in_domains() -> None:
    assert build_event(change(payload=customers(domain="Sales")))["domains"] == ["Sales"]
    assert "domains" not in build_event(change())


def test_versions_count_changes_by_tenths_as_openmetadata_does() -> None:
    assert [version(n) for n in (1, 2, 9, 10, 11, 23)] == [0.1, 0.2, 0.9, 1.0, 1.1, 2.3]


def test_without_a_history_an_event_has_no_versions() -> None:
    event = build_event(change("updated", description=None))

    assert "previousVersion" not in event and "currentVersion" not in event
    assert event["changeDescription"] == {
        "fieldsAdded": [],
        "fieldsUpdated": [],
        "fieldsDeleted": [],
    }


def test_a_change_without_a_commit_time_takes_its_runs_start() -> None:
    started = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

    event = build_event(change(committed_at=None), History(1, started))

    assert event["timestamp"] == int(started.timestamp() * 1000)
    assert "timestamp" not in build_event(change(committed_at=None))


# --- filters ------------------------------------------------------------------------------------


def test_an_empty_filter_takes_every_event() -> None:
    wanted = EventFilter()

    assert wanted.empty
    assert all(wanted.accepts(t, "table", FQN) for t in EVENT_TYPES)  # type: ignore[arg-type]


def test_a_filter_must_match_every_list_it_gives() -> None:
    wanted = EventFilter.model_validate(
        {
            "event_types": ["entityCreated", "entityUpdated"],
            "entity_types": ["table"],
            "fqn": ["svc.db.*.cust*", "other.*"],
        }
    )

    assert wanted.accepts_change(change("created"))
    assert wanted.accepts_change(change("updated"))
    assert not wanted.accepts_change(change("deleted"))
    assert not wanted.accepts_change(change(key="svc.db.sch.orders"))
    assert not wanted.accepts_change(change(entity_type="databaseSchema", key="svc.db.custom"))


def test_fqn_globs_are_case_sensitive_and_one_glob_may_be_given_alone() -> None:
    wanted = EventFilter.model_validate({"fqn": "svc.*.customers"})

    assert wanted.fqn == ["svc.*.customers"]
    assert wanted.accepts_change(change())
    assert not wanted.accepts_change(change(key="SVC.db.sch.customers"))


def test_a_filter_refuses_an_unknown_event_or_entity_type() -> None:
    with pytest.raises(ValidationError, match="entityCreated"):
        EventFilter.model_validate({"event_types": ["created"]})
    with pytest.raises(ValidationError, match="unknown entity type 'tabel'; known are"):
        EventFilter.model_validate({"entity_types": ["tabel"]})


# --- selecting from the change log --------------------------------------------------------------


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[StateStore]:
    """Every kind of change, of a table and of a lineage edge, in one change log."""
    store = StateStore.open(tmp_path / "state.duckdb", version="test")
    run = store.start_run("shop", "incremental", "fp", 1)
    batch = Batch(run, "shop", "mixed")
    for kind in ("created", "updated", "deleted", "restored"):
        for entity_type, key in (("table", FQN), ("lineage", "svc.db.sch.a->svc.db.sch.b")):
            batch.changes.append(
                ChangeRow(key, entity_type, None, [], kind, "fp", None, [], None, "{}")
            )
    store.commit(batch)
    try:
        yield store
    finally:
        store.close()


@pytest.mark.parametrize(
    "event_types",
    [[t] for t in EVENT_TYPES] + [["entityCreated", "entityLineageDeleted"], []],
)
def test_an_event_filter_selects_in_the_state_exactly_the_changes_it_accepts(
    logged: StateStore, event_types: list[str]
) -> None:
    for entity_types, fqn in (([], []), (["lineage"], []), (["table"], ["svc.*.customers"])):
        wanted = EventFilter.model_validate(
            {"event_types": event_types, "entity_types": entity_types, "fqn": fqn}
        )
        everything = [s.change for s in logged.changelog.select(Selection())]

        chosen = logged.changelog.select(event_selection(wanted))

        assert [s.change for s in chosen] == [c for c in everything if wanted.accepts_change(c)]


def test_an_event_selection_keeps_the_conditions_it_is_given() -> None:
    base = Selection(workflow="shop", run_id=3, failed=True, limit=5)

    narrowed = event_selection(EventFilter.model_validate({"fqn": "svc.*"}), base)

    assert (narrowed.workflow, narrowed.run_id, narrowed.failed, narrowed.limit) == (
        "shop",
        3,
        True,
        5,
    )
    assert narrowed.key_globs == ("svc.*",)
    assert narrowed.matches is None  # no event type given: every row


# --- times --------------------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2024-04-30", datetime(2024, 4, 30, tzinfo=UTC)),
        ("2024-04-30T08:15", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
        ("2024-04-30T08:15:00+02:00", datetime(2024, 4, 30, 6, 15, tzinfo=UTC)),
        ("2024-04-30T08:15:00Z", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
    ],
)
def test_a_time_is_an_age_or_an_iso_date_or_time_in_utc_unless_it_says(
    text: str, expected: datetime
) -> None:
    assert parse_time(text, now=NOW) == expected


def test_a_time_that_is_neither_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match=r"time 'yesterday': use an ISO date or time .* 2h"):
        parse_time("yesterday")
