"""The inbox: events stored once, in arrival order, read per run and per job."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from syncer.connectors.openlineage import Inbox, ReceiverSpec
from syncer.errors import SourceError

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def run_event(run_id: str, event_type: str, minute: int, job: str = "etl.orders") -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": f"2026-12-04T10:{minute:02d}:00.000Z",
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "airflow", "name": job, "facets": {}},
        "inputs": [],
        "outputs": [],
    }


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(tmp_path / "lineage" / "inbox.sqlite", create=True)


def test_a_missing_inbox_is_refused_with_the_way_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"inbox .*missing\.sqlite does not exist.*syncer serve"):
        Inbox(tmp_path / "missing.sqlite")


def test_a_file_that_is_not_an_inbox_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database at all, not even close to one\n" * 20)
    for path in (other, text):
        with pytest.raises(SourceError, match=r"is not an inbox.*another path"):
            Inbox(path, create=True)
    with sqlite3.connect(other) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_appended_events_are_numbered_in_arrival_order(inbox: Inbox) -> None:
    assert inbox.last_seq() == 0
    assert inbox.append([run_event("r1", "START", 1), run_event("r1", "COMPLETE", 2)]) == 2
    assert inbox.last_seq() == 2
    [events] = list(inbox.runs_touched_since(0))
    assert [(e.seq, e.kind, e.event_type, e.run_id) for e in events] == [
        (1, "run", "START", "r1"),
        (2, "run", "COMPLETE", "r1"),
    ]
    assert events[0].job_namespace == "airflow" and events[0].job_name == "etl.orders"
    assert events[0].event_time.isoformat() == "2026-12-04T10:01:00+00:00"
    assert events[1].body == run_event("r1", "COMPLETE", 2)


def test_an_event_sent_again_changes_nothing(inbox: Inbox) -> None:
    event = run_event("r1", "START", 1)
    assert inbox.append([event]) == 1
    reordered = dict(reversed(list(event.items())))
    assert inbox.append([reordered, event]) == 0
    assert inbox.last_seq() == 1
    # The next new event is numbered on, with no gap where the copies were turned away.
    assert inbox.append([run_event("r1", "COMPLETE", 2), run_event("r1", "COMPLETE", 2)]) == 1
    assert inbox.last_seq() == 2


def test_a_failed_append_stores_nothing_of_its_batch(inbox: Inbox) -> None:
    broken = run_event("r2", "START", 1) | {"eventTime": "yesterday"}
    with pytest.raises(ValueError, match="yesterday"):
        inbox.append([run_event("r1", "START", 1), broken])
    assert inbox.last_seq() == 0


def test_a_run_touched_again_is_read_whole_in_event_time_order(inbox: Inbox) -> None:
    inbox.append([run_event("r1", "START", 1), run_event("r2", "START", 3)])
    inbox.append([run_event("r2", "COMPLETE", 4), run_event("r1", "COMPLETE", 2)])
    # A late RUNNING event of r1, whose time is between its START and COMPLETE.
    inbox.append([run_event("r1", "RUNNING", 1) | {"eventTime": "2026-12-04T10:01:30+00:00"}])
    runs = list(inbox.runs_touched_since(2))
    assert [[(e.run_id, e.event_type) for e in run] for run in runs] == [
        [("r1", "START"), ("r1", "RUNNING"), ("r1", "COMPLETE")],
        [("r2", "START"), ("r2", "COMPLETE")],
    ]
    assert list(inbox.runs_touched_since(inbox.last_seq())) == []


def test_job_and_dataset_events_are_stored_but_belong_to_no_run(inbox: Inbox) -> None:
    job_event = {key: value for key, value in run_event("x", "START", 1).items()}
    del job_event["run"], job_event["eventType"]
    dataset_event = {
        "eventTime": "2026-12-04T10:00:00+01:00",
        "producer": PRODUCER,
        "schemaURL": SCHEMA.replace("RunEvent", "DatasetEvent"),
        "dataset": {"namespace": "postgres://db:5432", "name": "shop.public.orders"},
    }
    assert inbox.append([job_event, dataset_event]) == 2
    assert list(inbox.runs_touched_since(0)) == []
    assert inbox.jobs() == [("airflow", "etl.orders")]


def test_a_jobs_last_ended_runs_come_newest_first(inbox: Inbox) -> None:
    inbox.append(
        [
            run_event("old", "START", 1),
            run_event("old", "COMPLETE", 2),
            run_event("failed", "START", 3),
            run_event("failed", "FAIL", 4),
            run_event("new", "START", 5),
            run_event("new", "COMPLETE", 6),
            run_event("running", "START", 7),
            run_event("other", "COMPLETE", 8, job="etl.customers"),
        ]
    )
    runs = inbox.job_runs("airflow", "etl.orders", last=2)
    assert [[(e.run_id, e.event_type) for e in run] for run in runs] == [
        [("new", "START"), ("new", "COMPLETE")],
        [("failed", "START"), ("failed", "FAIL")],
    ]
    assert inbox.jobs() == [("airflow", "etl.customers"), ("airflow", "etl.orders")]


def test_a_reader_sees_what_another_connection_appended(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    writer = Inbox(path, create=True)
    reader = Inbox(path)
    writer.append([run_event("r1", "START", 1)])
    assert reader.last_seq() == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer.close()
    reader.close()


def test_a_receiver_beyond_this_machine_needs_a_token() -> None:
    assert ReceiverSpec().host == "127.0.0.1" and ReceiverSpec().port == 5000
    with pytest.raises(ValueError, match=r"host 0\.0\.0\.0 listens beyond this machine"):
        ReceiverSpec(host="0.0.0.0")
    spec = ReceiverSpec(host="0.0.0.0", token="${env:TOKEN}")
    assert spec.max_body_bytes == 5 * 1024 * 1024


def test_a_reader_in_the_middle_of_a_read_does_not_hold_up_an_append(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    with Inbox(path, create=True) as writer:
        writer.append([run_event("r1", "START", 1)])
        reader = sqlite3.connect(path, isolation_level=None, timeout=0.1)
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        assert writer.append([run_event("r1", "COMPLETE", 2)]) == 1
        # The reader goes on seeing its snapshot until its transaction ends.
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 2
        reader.close()
