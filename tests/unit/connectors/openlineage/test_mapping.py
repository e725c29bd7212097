"""A run's events merge into one run: facets accumulate, the last state wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from syncer.connectors.openlineage.inbox import InboxEvent
from syncer.connectors.openlineage.mapping import merge_run, to_status

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
PG = "postgres://db:5432"


def event(seq: int, event_type: str, minutes: int, **body: Any) -> InboxEvent:
    return InboxEvent(
        seq=seq,
        received_at=T0,
        kind="run",
        event_type=event_type,
        event_time=T0 + timedelta(minutes=minutes),
        job_namespace="ns",
        job_name="job",
        run_id="r1",
        body={"job": {"namespace": "ns", "name": "job"}, **body},
    )


def test_facets_of_a_dataset_accumulate_and_a_later_one_replaces_an_earlier() -> None:
    run = merge_run(
        [
            event(
                1,
                "START",
                0,
                outputs=[
                    {
                        "namespace": PG,
                        "name": "a.b.c",
                        "facets": {"schema": {"fields": [{"name": "x"}]}, "doc": {"v": 1}},
                    }
                ],
            ),
            event(
                2,
                "COMPLETE",
                5,
                outputs=[{"namespace": PG, "name": "a.b.c", "facets": {"doc": {"v": 2}}}],
            ),
        ]
    )

    assert run.outputs[PG, "a.b.c"] == {"schema": {"fields": [{"name": "x"}]}, "doc": {"v": 2}}


def test_a_running_event_stamped_after_the_end_does_not_reopen_the_run() -> None:
    run = merge_run([event(1, "START", 0), event(3, "FAIL", 5), event(2, "RUNNING", 6)])

    status = to_status(run, "openlineage.ns/job")

    assert (status.execution_status, status.end_time, status.inbox_seq) == (
        "Failed",
        int((T0 + timedelta(minutes=5)).timestamp() * 1000),
        3,
    )
    assert status.timestamp == int(T0.timestamp() * 1000)


def test_the_inbox_position_is_never_part_of_what_is_stored_or_sent() -> None:
    run = merge_run([event(1, "START", 0), event(2, "COMPLETE", 5)])

    assert "inboxSeq" not in to_status(run, "openlineage.ns/job").model_dump(by_alias=True)
