"""The engine loop through a file source and a real state file: what a re-run sends and keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from syncer.models import Entity, EntityReference, LineageEdge, Table
from syncer.processors.filter import FilterConfig, FilterProcessor
from syncer.steps import Counters
from tests.support.engine import SCHEMA, Engine, catalog, table, tables
from tests.support.runs import STATE_TABLES, run_workflow
from tests.support.sinks import MemorySink
from tests.support.sources import FileSource

HIERARCHY = [("created", "svc"), ("created", "svc.db"), ("created", SCHEMA)]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(tmp_path)


def fqn(name: str) -> str:
    return f"{SCHEMA}.{name}"


def live(engine: Engine) -> list[str]:
    return [
        r[0]
        for r in engine.rows(
            "SELECT fqn FROM current_entities WHERE entity_type = 'table' ORDER BY 1"
        )
    ]


def counts(engine: Engine, run_id: int) -> dict[str, int]:
    names = Counters.FIELDS
    row = engine.rows(f"SELECT {', '.join(names)} FROM run_summary WHERE run_id = ?", [run_id])
    return dict(zip(names, row[0], strict=True))


# --- create, unchanged, update ----------------------------------------------------------------


def test_a_first_run_creates_every_entity_parents_first(engine: Engine) -> None:
    engine.write(list(reversed(catalog(tables(2)))))  # the file lists tables before services
    sink = MemorySink()
    result = engine.run(sinks={"memory": sink})
    assert result.status == "succeeded" and result.warnings == []
    assert result.counters.as_dict() == {
        "scanned": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "restored": 0,
        "deleted": 0,
        "filtered": 0,
        "errors": 0,
        "refused": 0,
    }
    expected = [*HIERARCHY, ("created", fqn("t00")), ("created", fqn("t01"))]
    assert engine.changes() == expected
    assert sink.kinds == expected
    assert counts(engine, result.run_id)["created"] == 5
    assert engine.rows("SELECT status, mode FROM run_summary") == [("succeeded", "incremental")]


def test_a_re_run_of_an_unchanged_source_changes_and_sends_nothing(engine: Engine) -> None:
    engine.write_tables(tables(3))
    engine.run(sinks={"memory": MemorySink()})
    sink = MemorySink()  # same name: it continues from the first run's offset
    second = engine.run(sinks={"memory": sink})
    assert second.counters.unchanged == 6 and second.counters.changed == 0
    assert engine.changes(second.run_id) == []
    assert sink.offered == [] and second.deliveries[0].delivered == 0
    assert counts(engine, second.run_id)["unchanged"] == 6


def test_changing_one_table_is_one_update_naming_the_changed_fields(engine: Engine) -> None:
    engine.write_tables(tables(3))
    engine.run(sinks={"memory": MemorySink()})
    changed = table("t01", columns=[{"name": "id", "data_type": "BIGINT"}, "name"], description="x")
    engine.write_tables([table("t00"), changed, table("t02")])
    sink = MemorySink()  # the same sink again: it carries on from its offset
    result = engine.run(sinks={"memory": sink})
    assert result.counters.updated == 1 and result.counters.unchanged == 5
    assert engine.changes(result.run_id) == [("updated", fqn("t01"))]
    (update,) = sink.written
    assert update.changed_fields == ["description", "columns.id.dataType"]
    assert update.payload["description"] == "x"
    (description,) = engine.rows("SELECT description FROM change_log WHERE kind = 'updated'")[0]
    assert orjson.loads(description)["fieldsUpdated"] == [
        {"name": "columns.id.dataType", "oldValue": "INT", "newValue": "BIGINT"}
    ]


def test_an_update_records_both_fingerprints_and_the_entity_keeps_its_first_run(
    engine: Engine,
) -> None:
    engine.write_tables(tables(1))
    first = engine.run()
    engine.write_tables([table("t00", description="now described")])
    second = engine.run()
    ((old, new),) = engine.rows(
        "SELECT old_fingerprint, fingerprint FROM changes WHERE kind = 'updated'"
    )
    ((created,),) = engine.rows(
        "SELECT fingerprint FROM changes WHERE key = ? AND kind = 'created'", [fqn("t00")]
    )
    assert old == created and new != old
    assert engine.rows(
        "SELECT first_run, changed_run FROM current_entities WHERE fqn = ?", [fqn("t00")]
    ) == [(first.run_id, second.run_id)]


# --- deletions --------------------------------------------------------------------------------


def test_a_removed_table_is_deleted_and_re_adding_it_restores_it(engine: Engine) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables([t for t in tables(10) if t["name"] != "t04"])
    sink = MemorySink()
    deleted = engine.run(sinks={"memory": sink})
    assert deleted.counters.deleted == 1 and deleted.warnings == []
    assert engine.changes(deleted.run_id) == [("deleted", fqn("t04"))]
    assert fqn("t04") not in live(engine) and len(live(engine)) == 9
    (deletion,) = [c for c in sink.written if c.kind == "deleted"]
    assert deletion.payload["name"] == "t04"  # a deletion carries the last known entity

    engine.write_tables(tables(10))
    restored = engine.run(sinks={"memory": sink})
    assert restored.counters.restored == 1 and restored.counters.created == 0
    assert engine.changes(restored.run_id) == [("restored", fqn("t04"))]
    assert len(live(engine)) == 10
    assert sink.kinds[-1] == ("restored", fqn("t04"))


def test_deleting_more_than_the_fail_safe_share_is_refused_and_nothing_is_deleted(
    engine: Engine,
) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables(tables(10)[3:])
    result = engine.run()
    assert result.counters.deleted == 0
    assert engine.changes(result.run_id) == []
    assert len(live(engine)) == 10
    (warning,) = result.warnings
    assert warning.startswith("stream tables: deletions refused: would delete 3 of 10 (30%)")
    assert "fail-safe 20%" in warning and "deletions.fail_safe_percent" in warning
    assert engine.rows(
        "SELECT note FROM run_streams WHERE run_id = ? AND stream = 'tables'", [result.run_id]
    ) == [("would delete 3 of 10 (30%), more than the fail-safe 20%",)]


def test_new_entities_do_not_dilute_the_fail_safe_and_plan_agrees_with_run(
    engine: Engine,
) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables([*tables(10)[3:], *tables(10, prefix="new")])
    planned = engine.run(dry_run=True)
    result = engine.run()
    for outcome in (planned, result):
        assert outcome.counters.deleted == 0
        assert outcome.warnings[0].startswith(
            "stream tables: deletions refused: would delete 3 of 10 (30%)"
        )


def test_a_raised_fail_safe_lets_a_large_deletion_through(engine: Engine) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables(tables(10)[3:])
    result = engine.run(deletions={"fail_safe_percent": 30})
    assert result.counters.deleted == 3 and result.warnings == []


def test_deletions_can_be_switched_off(engine: Engine) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables(tables(10)[1:])
    result = engine.run(deletions={"enabled": False})
    assert result.counters.deleted == 0 and len(live(engine)) == 10


def test_a_stream_with_a_record_error_skips_deletions(engine: Engine) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables([*tables(10)[1:], {"name": "t00", "error": "permission denied"}])
    result = engine.run()
    assert result.status == "partial" and result.counters.errors == 1
    assert result.counters.deleted == 0 and len(live(engine)) == 10
    assert result.warnings == [
        "stream tables: deletions skipped: the stream had errors, so a missing entity may only "
        "be unreadable"
    ]
    assert engine.rows(
        "SELECT status, errors FROM run_summary WHERE run_id = ?", [result.run_id]
    ) == [("partial", 1)]


def test_a_stream_that_yields_nothing_skips_deletions(engine: Engine) -> None:
    engine.write_tables(tables(10))
    engine.run()
    engine.write_tables([])
    result = engine.run()
    assert result.counters.deleted == 0 and len(live(engine)) == 10
    assert result.warnings == [
        "stream tables: deletions skipped: the stream produced nothing, which looks like an "
        "outage, not deletions"
    ]


def test_filtered_entities_are_counted_and_not_deleted(engine: Engine) -> None:
    engine.write_tables(tables(10))
    engine.run()
    keep_out = FilterProcessor(FilterConfig(exclude=[r"\.t0[0-4]$"]))
    result = engine.run(processors=[keep_out])
    assert result.counters.filtered == 5 and result.counters.unchanged == 8
    assert result.counters.deleted == 0 and result.warnings == []
    assert len(live(engine)) == 10
    assert counts(engine, result.run_id)["filtered"] == 5


def test_filtered_entities_are_never_created(engine: Engine) -> None:
    engine.write_tables(tables(4))
    only_tables = FilterProcessor(FilterConfig(entity_types=["table"], exclude=["t03"]))
    result = engine.run(processors=[only_tables])
    assert result.counters.created == 3 and result.counters.filtered == 4
    assert [key for _, key in engine.changes()] == [fqn("t00"), fqn("t01"), fqn("t02")]


def test_deletions_are_delivered_children_first(engine: Engine) -> None:
    engine.write(
        [
            *catalog(tables(10)),
            {
                "name": "extra_schemas",
                "entity_type": "databaseSchema",
                "records": [{"name": f"s{i}", "database": "svc.db"} for i in range(10)],
            },
            {
                "name": "extra_tables",
                "entity_type": "table",
                "records": [
                    {"name": f"x{i}", "database_schema": f"svc.db.s{i}"} for i in range(10)
                ],
            },
        ]
    )
    engine.run()
    engine.write(
        [
            *catalog(tables(10)),
            {
                "name": "extra_schemas",
                "entity_type": "databaseSchema",
                "records": [{"name": f"s{i}", "database": "svc.db"} for i in range(1, 10)],
            },
            {
                "name": "extra_tables",
                "entity_type": "table",
                "records": [
                    {"name": f"x{i}", "database_schema": f"svc.db.s{i}"} for i in range(1, 10)
                ],
            },
        ]
    )
    result = engine.run()
    assert engine.changes(result.run_id) == [("deleted", "svc.db.s0.x0"), ("deleted", "svc.db.s0")]


# --- cursors ----------------------------------------------------------------------------------


def stamped(count: int, *, start: datetime = T0, **overrides: Any) -> list[dict[str, Any]]:
    return [
        table(f"t{i:02d}", updated_at=(start + timedelta(minutes=i)).isoformat(), **overrides)
        for i in range(count)
    ]


def watermark(engine: Engine, stream: str = "tables") -> str | None:
    rows = engine.rows("SELECT value FROM watermarks WHERE stream = ?", [stream])
    return rows[0][0] if rows else None


def cursor(**options: Any) -> dict[str, Any]:
    return {"cursor": {"field": "updated_at", "kind": "datetime", **options}}


def test_an_incremental_read_starts_at_the_watermark_minus_the_lookback(engine: Engine) -> None:
    engine.write_tables(stamped(5), **cursor(lookback=120))
    first = engine.run()
    assert ("tables", None) in engine.source.reads
    assert watermark(engine) == (T0 + timedelta(minutes=4)).isoformat()
    engine.write_tables(stamped(6), **cursor(lookback=120))
    second = engine.run()
    assert ("tables", T0 + timedelta(minutes=2)) in engine.source.reads
    # the records inside the lookback window come again and are dropped as unchanged
    read_again = second.streams["tables"]
    assert (read_again.scanned, read_again.unchanged, read_again.created) == (4, 3, 1)
    assert first.streams["tables"].created == 5
    assert watermark(engine) == (T0 + timedelta(minutes=5)).isoformat()


def test_an_integer_cursor_subtracts_its_lookback(engine: Engine) -> None:
    results = [
        {"test_case": "svc.db.sch.t.nn", "timestamp": ts, "test_case_status": "Success"}
        for ts in (100, 200, 300)
    ]
    stream = {
        "name": "results",
        "entity_type": "testCaseResult",
        "records": results,
        "cursor": {"field": "timestamp", "kind": "integer", "lookback": 50},
    }
    engine.write([stream])
    engine.run()
    engine.run()
    assert engine.source.reads == [("results", 250)]
    assert watermark(engine, "results") == "300"


def test_a_sorted_stream_keeps_the_watermark_of_every_committed_batch(engine: Engine) -> None:
    records = [*stamped(5), {"raise": "connection reset"}]
    engine.write_tables(records, **cursor(ordering="sorted"))
    result = engine.run(batch_size=2)
    assert result.status == "failed" and result.error == "connection reset"
    # batches of two: t00-t01 and t02-t03 were committed; t04 was in flight
    assert watermark(engine) == (T0 + timedelta(minutes=3)).isoformat()
    assert live(engine) == [fqn(f"t{i:02d}") for i in range(4)]


def test_an_unsorted_stream_moves_its_watermark_only_when_fully_read(engine: Engine) -> None:
    engine.write_tables([*stamped(5), {"raise": "connection reset"}], **cursor())
    result = engine.run(batch_size=2)
    assert result.status == "failed"
    assert watermark(engine) is None
    assert len(live(engine)) == 4  # the committed batches are kept all the same
    engine.write_tables(stamped(5)[::-1], **cursor())
    engine.run(batch_size=2)
    assert watermark(engine) == (T0 + timedelta(minutes=4)).isoformat()


def test_an_incremental_run_never_moves_the_watermark_back(engine: Engine) -> None:
    engine.write_tables(stamped(5), **cursor(ordering="sorted"))
    engine.run()
    engine.write_tables(stamped(2), **cursor(ordering="sorted"))
    engine.run()
    assert watermark(engine) == (T0 + timedelta(minutes=4)).isoformat()
    # A full refresh recomputes it from what it read (tests/unit/test_future_cursors.py).
    engine.run(full_refresh=True)
    assert watermark(engine) == (T0 + timedelta(minutes=1)).isoformat()


def test_a_full_refresh_reads_everything_and_keeps_history(engine: Engine) -> None:
    engine.write_tables(stamped(3), **cursor())
    engine.run()
    history = engine.changes()
    engine.write_tables(stamped(3, description="new"), **cursor())
    engine.run()  # incremental: sees only t02, at the watermark
    result = engine.run(full_refresh=True)
    assert engine.source.reads[-1] == ("tables", None)
    assert result.counters.updated == 2 and result.counters.created == 0
    assert engine.changes()[: len(history)] == history
    assert len(engine.changes()) == len(history) + 3
    assert engine.rows("SELECT mode FROM run_summary WHERE run_id = ?", [result.run_id]) == [
        ("full-refresh",)
    ]
    assert watermark(engine) == (T0 + timedelta(minutes=2)).isoformat()


def test_an_incremental_stream_never_infers_deletions_but_a_full_refresh_does(
    engine: Engine,
) -> None:
    engine.write_tables(stamped(10), **cursor())
    engine.run()
    engine.write_tables(stamped(10)[1:], **cursor())
    assert engine.run().counters.deleted == 0
    assert engine.run(full_refresh=True).counters.deleted == 1
    assert fqn("t00") not in live(engine)


def test_test_results_are_appended_never_updated_nor_deleted(engine: Engine) -> None:
    def results(*rows: tuple[int, str]) -> list[dict[str, Any]]:
        return [
            {
                "name": "results",
                "entity_type": "testCaseResult",
                "records": [
                    {"test_case": "s.d.x.t.nn", "timestamp": ts, "test_case_status": status}
                    for ts, status in rows
                ],
            }
        ]

    engine.write(results((1, "Success"), (2, "Failed")))
    assert engine.run().counters.created == 2
    engine.write(results((2, "Success"), (3, "Success")))  # a rewritten result, and a new one
    result = engine.run()
    assert (result.counters.created, result.counters.updated, result.counters.unchanged) == (
        1,
        0,
        1,
    )
    assert result.counters.deleted == 0
    assert engine.rows(
        "SELECT fqn, payload->>'$.testCaseStatus' FROM current_entities ORDER BY fqn"
    ) == [("s.d.x.t.nn@1", "Success"), ("s.d.x.t.nn@2", "Failed"), ("s.d.x.t.nn@3", "Success")]


# --- contracts, failures, plans ---------------------------------------------------------------


def test_a_table_whose_schema_was_never_emitted_is_reported(engine: Engine) -> None:
    streams = catalog([*tables(2), table("lost", database_schema="svc.db.other")])
    engine.write(streams)
    result = engine.run()
    assert result.warnings == [
        "table svc.db.other.lost refers to svc.db.other, which was never emitted"
    ]
    assert result.counters.created == 6  # reported, not refused


def test_a_source_that_fails_marks_the_run_failed_and_keeps_what_was_committed(
    engine: Engine,
) -> None:
    engine.write(
        [
            *catalog(tables(2)),
            {"name": "more", "entity_type": "table", "records": [{"raise": "server went away"}]},
        ]
    )
    sink = MemorySink()
    result = engine.run(sinks={"memory": sink})
    assert result.status == "failed" and result.error == "server went away"
    assert engine.rows("SELECT status, error FROM run_summary") == [("failed", "server went away")]
    assert len(sink.written) == 5  # what was committed is still delivered


def test_a_run_left_running_is_marked_crashed_by_the_next(engine: Engine) -> None:
    engine.write_tables(tables(1))
    engine.run()
    import duckdb

    con = duckdb.connect(str(engine.state_path))
    con.execute("UPDATE runs SET status = 'running', ended_at = NULL")
    con.close()
    engine.run()
    assert engine.rows("SELECT run_id, status FROM run_summary ORDER BY 1") == [
        (1, "crashed"),
        (2, "succeeded"),
    ]


@pytest.mark.parametrize("read_only", [False, True])
def test_a_plan_lists_the_changes_and_writes_nothing(engine: Engine, read_only: bool) -> None:
    engine.write_tables(tables(10))
    engine.run(sinks={"memory": MemorySink()})
    engine.write_tables(
        [table("t00", description="changed"), *tables(10)[1:9], table("new")]
    )  # t00 updated, t09 deleted, new created
    before = engine.state_path.read_bytes()
    rows_before = {t: engine.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in STATE_TABLES}
    sink = MemorySink()
    result = engine.run(dry_run=True, read_only=read_only, sinks={"memory": sink})
    assert sorted((p.kind, p.key, tuple(p.changed_fields)) for p in result.planned) == [
        ("created", fqn("new"), ()),
        ("deleted", fqn("t09"), ()),
        ("updated", fqn("t00"), ("description",)),
    ]
    assert result.counters.created == 1 and result.counters.deleted == 1
    assert sink.offered == []
    assert {t: engine.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in STATE_TABLES} == rows_before
    assert engine.state_path.read_bytes() == before
    assert engine.run().counters.changed == 3  # the real run still has all three to do


def test_a_failed_record_in_a_cursor_stream_holds_the_watermark_back(engine: Engine) -> None:
    engine.write_tables(stamped(3), **cursor())
    engine.run()
    mark = watermark(engine)
    engine.write_tables([*stamped(5), {"name": "t05", "error": "unreadable"}], **cursor())
    result = engine.run()
    assert result.counters.created == 2 and result.counters.errors == 1
    assert watermark(engine) == mark  # the failed record will be read again next time


# --- derived streams --------------------------------------------------------------------------


class LinkedSource(FileSource):
    """Each table it reads is the end of a lineage edge from the table before it."""

    def relationships(self, entity: Entity) -> list[Entity]:
        if not isinstance(entity, Table) or entity.name == "t00":
            return []
        before = f"{entity.name[0]}{int(entity.name[1:]) - 1:02d}"
        return [
            LineageEdge(
                from_entity=EntityReference(type="table", fully_qualified_name=fqn(before)),
                to_entity=EntityReference(type="table", fully_qualified_name=entity.fqn),
            )
        ]


def test_derived_entities_are_committed_in_batches_after_every_read_stream(
    engine: Engine,
) -> None:
    engine.write(
        [
            *catalog(tables(7)),
            {"name": "lineage", "entity_type": "lineage", "derived": True, "records": []},
        ]
    )
    sink = MemorySink()
    config = engine.config(sinks={"memory": sink}, batch_size=2)
    config.source = LinkedSource(engine.source.config)
    result = run_workflow(config, engine.state_path)
    assert result.status == "succeeded"
    assert result.streams["lineage"].created == 6
    kinds = [c.entity_type for c in sink.written]
    assert kinds[-6:] == ["lineage"] * 6  # after both of their ends
    assert [c.key for c in sink.written[-6:]] == [
        f"{fqn(f't{i:02d}')}->{fqn(f't{i + 1:02d}')}" for i in range(6)
    ]
    # Each edge once in the change log, and nothing new on a re-run.
    assert engine.rows("SELECT count(DISTINCT seq) FROM changes WHERE stream = 'lineage'") == [(6,)]
    assert run_workflow(config, engine.state_path).streams["lineage"].unchanged == 6
