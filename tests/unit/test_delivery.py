"""Each sink gets every committed change once, in order, whatever happened to the others."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from syncer.delivery import deliver
from syncer.sinks.eventsink import EventSink, EventSinkConfig, Outgoing
from syncer.sinks.jsonl import JsonlConfig, JsonlSink
from syncer.state import changelog
from syncer.statefile import open_state
from syncer.steps import Change, History, Refusal, Refusals
from tests.support.engine import SCHEMA, Engine, catalog, table, tables
from tests.support.sinks import MemorySink


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = Engine(tmp_path)
    engine.write_tables(tables(3))
    return engine


def pending(engine: Engine) -> list[tuple[str, str, str, int, str]]:
    return engine.rows(
        "SELECT sink, fqn, kind, attempts, last_error FROM pending_changes ORDER BY sink, seq"
    )


def offsets(engine: Engine) -> dict[str, int]:
    return dict(engine.rows('SELECT sink, "offset" FROM deliveries'))


def test_every_sink_gets_the_whole_change_log_in_order(engine: Engine) -> None:
    first, second = MemorySink(), MemorySink()
    result = engine.run(sinks={"a": first, "b": second})
    assert [c.seq for c in first.written] == [1, 2, 3, 4, 5, 6]
    assert second.kinds == first.kinds
    assert [(r.sink, r.delivered, r.refused, r.error) for r in result.deliveries] == [
        ("a", 6, 0, None),
        ("b", 6, 0, None),
    ]
    assert offsets(engine) == {"a": 6, "b": 6}


def test_a_refused_change_stays_pending_and_is_retried_and_cleared_next_run(
    engine: Engine,
) -> None:
    picky = MemorySink()
    picky.refuse = {f"{SCHEMA}.t01"}
    result = engine.run(sinks={"picky": picky})
    assert result.deliveries[0].refused == 1 and result.deliveries[0].delivered == 5
    assert f"{SCHEMA}.t01" not in picky.keys
    assert pending(engine) == [("picky", f"{SCHEMA}.t01", "created", 1, f"refused {SCHEMA}.t01")]
    assert offsets(engine) == {"picky": 6}  # the offset moves on; the refusal is kept aside

    still_picky = MemorySink()
    still_picky.refuse = {f"{SCHEMA}.t01"}
    engine.run(sinks={"picky": still_picky})
    assert [c.key for c in still_picky.offered] == [f"{SCHEMA}.t01"]
    assert pending(engine)[0][3] == 2  # attempts

    willing = MemorySink()
    retried = engine.run(sinks={"picky": willing})
    assert willing.kinds == [("created", f"{SCHEMA}.t01")]
    assert retried.deliveries[0].delivered == 1
    assert pending(engine) == []


def test_a_sink_that_is_down_keeps_its_backlog_and_others_still_deliver(engine: Engine) -> None:
    down, up = MemorySink(), MemorySink()
    down.down = True
    result = engine.run(sinks={"down": down, "up": up})
    reports = {r.sink: r for r in result.deliveries}
    assert reports["down"].error == "memory sink is down"
    assert reports["down"].backlog == 6 and reports["down"].delivered == 0
    assert reports["up"].delivered == 6 and len(up.written) == 6
    # Extraction succeeded, but not everything reached every sink: the run is partial.
    assert result.status == "partial"
    assert result.error == "sink down: memory sink is down; 6 changes wait for the next run"
    assert offsets(engine) == {"down": 0, "up": 6}

    engine.write_tables([*tables(3), table("late")])
    back, up_again = MemorySink(), MemorySink()
    second = engine.run(sinks={"down": back, "up": up_again})
    assert [c.seq for c in back.written] == [1, 2, 3, 4, 5, 6, 7]
    assert up_again.kinds == [("created", f"{SCHEMA}.late")]
    assert [r.backlog for r in second.deliveries] == [0, 0]
    assert offsets(engine) == {"down": 7, "up": 7}


def test_a_sink_that_fails_mid_backlog_keeps_what_it_acknowledged(engine: Engine) -> None:
    engine.run()

    class Flaky(MemorySink):
        def write(self, changes):  # type: ignore[no-untyped-def]
            if len(self.written) >= 4:  # the first page of 4 is taken, then the sink goes down
                self.down = True
            return super().write(changes)

    sink = Flaky()
    store = open_state(engine.state_path)
    try:
        (report,) = deliver(store, engine.workflow, [("flaky", sink)], batch_size=4)
    finally:
        store.close()
    assert report.delivered == 4 and report.backlog == 2 and report.error is not None
    assert offsets(engine) == {"flaky": 4}


def test_a_new_sink_is_back_filled_from_the_state_without_reading_the_source(
    engine: Engine, tmp_path: Path
) -> None:
    engine.write_tables([*tables(3)])
    engine.run(sinks={"old": MemorySink()})
    engine.write_tables([table("t00", description="changed"), table("t01"), table("t02")])
    engine.run(sinks={"old": MemorySink()})
    engine.source_path.unlink()  # the source is gone: only the state can supply the history

    jsonl = JsonlSink(JsonlConfig(path=tmp_path / "backfill.jsonl"))
    store = open_state(engine.state_path)
    try:
        (report,) = deliver(store, engine.workflow, [("new", jsonl)])
    finally:
        store.close()
    assert report.delivered == 7 and report.error is None
    lines = (tmp_path / "backfill.jsonl").read_text().splitlines()
    assert len(lines) == 7 and '"kind":"updated"' in lines[-1]
    assert offsets(engine) == {"old": 7, "new": 7}


def test_workflows_sharing_a_state_file_deliver_only_their_own_changes(tmp_path: Path) -> None:
    shop, crm = Engine(tmp_path, workflow="shop"), Engine(tmp_path, workflow="crm")
    shop.write_tables(tables(2))
    shop.run()
    crm_sink = MemorySink()
    crm.write_tables(tables(1, prefix="c"))
    crm.run(sinks={"memory": crm_sink})
    assert crm_sink.keys == ["svc", "svc.db", SCHEMA, f"{SCHEMA}.c00"]
    assert {c.workflow for c in crm_sink.written} == {"crm"}


# --- sinks that send requests: one request's worth at a time, each acknowledgement saved ------


def test_a_sink_that_sends_requests_gets_one_at_a_time_and_each_is_recorded(
    engine: Engine,
) -> None:
    engine.run()

    class Requests(MemorySink):
        def __init__(self) -> None:
            super().__init__()
            self.requests: list[list[int]] = []

        @property
        def request_size(self) -> int:
            return 2

        def write(self, changes: Sequence[Change]) -> Refusals:
            self.requests.append([c.seq for c in changes])
            self.down = len(self.requests) == 5  # the receiver goes away at the fifth
            return super().write(changes)

    sink = Requests()
    store = open_state(engine.state_path)
    try:
        (report,) = deliver(store, engine.workflow, [("requests", sink)])
    finally:
        store.close()
    # A request ends before a change whose parent it holds (the database after its service):
    # the parent's answer is known before its child goes.
    assert sink.requests == [[1], [2], [3], [4, 5], [6]]
    # the requests answered are saved: a run after a kill would send only the last one again
    assert report.delivered == 5 and report.backlog == 1
    assert offsets(engine) == {"requests": 5}


def test_an_event_sink_sends_a_request_per_group_and_histories_are_read_once_a_page(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.run()
    reads: list[list[int]] = []
    read_histories = changelog.histories

    def counted(connection: Any, seqs: Sequence[int]) -> dict[int, History]:
        reads.append(list(seqs))
        return read_histories(connection, seqs)

    monkeypatch.setattr(changelog, "histories", counted)

    class Collecting(EventSink):
        config_model = EventSinkConfig

        def __init__(self) -> None:
            super().__init__(EventSinkConfig())
            self.group_size = 2
            self.sent: list[list[tuple[int, float]]] = []

        def send(self, events: Sequence[Outgoing]) -> dict[int, Refusal]:
            self.sent.append([(e.seq, e.event["currentVersion"]) for e in events])
            return {}

    sink = Collecting()
    store = open_state(engine.state_path)
    try:
        (report,) = deliver(store, engine.workflow, [("events", sink)])
    finally:
        store.close()
    # a group ends before a change whose parent it holds (see above)
    assert sink.sent == [[(1, 0.1)], [(2, 0.1)], [(3, 0.1)], [(4, 0.1), (5, 0.1)], [(6, 0.1)]]
    assert reads == [[1, 2, 3, 4, 5, 6]]
    assert report.delivered == 6 and offsets(engine) == {"events": 6}


# --- a child waits while its parent is refused ------------------------------------------------


def _stream(name: str, entity_type: str, *records: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "entity_type": entity_type, "records": list(records)}


ORDERS, DAILY = f"{SCHEMA}.orders", f"{SCHEMA}.daily"
TEST_CASE = f"{ORDERS}.id.id_not_null"
WITH_CHILDREN = [
    *catalog([table("orders"), table("daily")]),
    _stream(
        "tests",
        "testCase",
        {
            "name": "id_not_null",
            "table": ORDERS,
            "column": "id",
            "test_definition": "columnValuesToBeNotNull",
        },
    ),
    _stream(
        "results",
        "testCaseResult",
        {"test_case": TEST_CASE, "timestamp": 1_764_000_000_000, "test_case_status": "Failed"},
    ),
    _stream(
        "lineage",
        "lineage",
        {
            "from_entity": {"type": "table", "fully_qualified_name": ORDERS},
            "to_entity": {"type": "table", "fully_qualified_name": DAILY},
        },
    ),
]


def test_a_refused_parent_holds_back_its_children_until_it_is_delivered_then_all_go_in_order(
    engine: Engine,
) -> None:
    engine.write(WITH_CHILDREN)
    picky = MemorySink()
    picky.refuse = {ORDERS}

    first = engine.run(sinks={"picky": picky})

    # The test case, its result (through the test case) and the lineage edge wait for the
    # table: none of them is offered to the sink.
    assert [c.key for c in picky.offered] == ["svc", "svc.db", SCHEMA, ORDERS, DAILY]
    [report] = first.deliveries
    assert (report.delivered, report.refused, report.waiting) == (4, 1, {ORDERS: 3})
    waits = f"waits for {ORDERS}, which sink picky refused"
    assert [(row[2], row[4]) for row in pending(engine)] == [
        ("created", f"refused {ORDERS}"),
        ("created", waits),
        ("created", waits),
        ("created", waits),
    ]
    assert [row[1] for row in pending(engine)][:2] == [ORDERS, TEST_CASE]
    assert first.status == "partial"
    assert first.error == (
        "sink picky: 1 changes refused, 3 waiting for them; retried on the next run "
        "(see `syncer changes --pending`)"
    )

    willing = MemorySink()
    second = engine.run(sinks={"picky": willing})

    # The parent goes first, then its children, in log order.
    assert [c.entity_type for c in willing.written] == [
        "table",
        "testCase",
        "testCaseResult",
        "lineage",
    ]
    assert [c.seq for c in willing.written] == sorted(c.seq for c in willing.written)
    assert willing.keys[:2] == [ORDERS, TEST_CASE]
    assert second.status == "succeeded" and second.deliveries[0].waiting == {}
    assert pending(engine) == []


def test_children_keep_waiting_while_their_parent_is_refused_again(engine: Engine) -> None:
    engine.write(WITH_CHILDREN)
    for _ in range(2):
        picky = MemorySink()
        picky.refuse = {ORDERS}
        result = engine.run(sinks={"picky": picky})
    assert [c.key for c in picky.offered] == [ORDERS]  # the retry offers the parent only
    assert result.deliveries[0].waiting == {ORDERS: 3}
    assert [row[3] for row in pending(engine)] == [2, 2, 2, 2]  # attempts


def test_a_child_of_a_dead_letter_waits_and_goes_once_it_is_revived(engine: Engine) -> None:
    engine.write(WITH_CHILDREN)

    class Final(MemorySink):
        def write(self, changes: Sequence[Change]) -> Refusals:
            return {
                seq: Refusal(str(reason), final=True)
                for seq, reason in super().write(changes).items()
            }

    dead = Final()
    dead.refuse = {ORDERS}
    first = engine.run(sinks={"picky": dead})
    assert first.deliveries[0].refused == 1 and first.status == "partial"

    again = MemorySink()
    second = engine.run(sinks={"picky": again})
    assert again.offered == []  # a dead letter is not offered, and its children wait for it
    assert second.deliveries[0].waiting == {ORDERS: 3} and second.status == "partial"

    store = open_state(engine.state_path)
    try:
        assert store.revive(engine.workflow, "picky") == 1
    finally:
        store.close()
    revived = MemorySink()
    engine.run(sinks={"picky": revived})
    assert revived.keys[:2] == [ORDERS, TEST_CASE] and len(revived.keys) == 4
    assert pending(engine) == []
