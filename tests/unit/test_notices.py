"""A reader's `Notice`s: run warnings, prefixed with the stream, bounded per stream, and nothing
else: not counted, no watermark moved, no deletion allowed or held back."""

from __future__ import annotations

from pathlib import Path

from syncer.models import DatabaseService, PipelineStatus
from syncer.results import RunResult
from syncer.steps import NOTICES_PER_STREAM, Cursor, Either, Notice
from syncer.testing import ListSource, ListStream, MemorySink, run_source

HELD_BACK = Notice("dataset pg/orders is held back: add pg to namespaces")


def services(*names: str) -> list[Either | Notice]:
    return [DatabaseService(name=n, service_type="Postgres") for n in names]


def status(timestamp: int) -> PipelineStatus:
    return PipelineStatus(
        pipeline="jobs.nightly", timestamp=timestamp, execution_status="Successful"
    )


def sync(source: ListSource, tmp_path: Path, sink: MemorySink | None = None) -> RunResult:
    sinks = [("memory", sink)] if sink is not None else []
    result = run_source(source, tmp_path / "state.duckdb", sinks=sinks)
    assert result.status == "succeeded", result.error
    return result


def test_a_notice_becomes_a_run_warning_named_after_its_stream(tmp_path: Path) -> None:
    stream = ListStream("services", "databaseService", [*services("a"), HELD_BACK])

    result = sync(ListSource(stream), tmp_path)

    assert result.warnings == [f"stream services: {HELD_BACK.message}"]


def test_a_notice_is_not_counted_and_changes_nothing_that_is_synced(tmp_path: Path) -> None:
    quiet = ListStream("services", "databaseService", services("a", "b"))
    told = ListStream("services", "databaseService", [HELD_BACK, *services("a", "b"), HELD_BACK])
    quiet_sink, told_sink = MemorySink(), MemorySink()

    without = sync(ListSource(quiet), tmp_path / "quiet", quiet_sink)
    with_notices = sync(ListSource(told), tmp_path / "told", told_sink)

    assert with_notices.counters == without.counters
    assert with_notices.counters.scanned == 2 and with_notices.counters.errors == 0
    assert [(c.kind, c.key) for c in told_sink.written] == [
        (c.kind, c.key) for c in quiet_sink.written
    ]


def test_notices_neither_hold_back_nor_allow_a_deletion(tmp_path: Path) -> None:
    stream = ListStream("services", "databaseService", services("a", "b", "c", "d", "e", "f"))
    source = ListSource(stream)
    sync(source, tmp_path, MemorySink())

    stream.records = [*services("a", "b", "c", "d", "e"), HELD_BACK]
    sink = MemorySink()
    result = sync(source, tmp_path, sink)

    assert result.counters.deleted == 1
    assert [(c.kind, c.key) for c in sink.written] == [("deleted", "f")]

    stream.records = [HELD_BACK]  # a stream that read nothing deletes nothing, notice or not
    emptied = sync(source, tmp_path)
    assert emptied.counters.deleted == 0


def test_notices_do_not_move_a_watermark(tmp_path: Path) -> None:
    stream = ListStream(
        "statuses",
        "pipelineStatus",
        [status(1_000), HELD_BACK],
        cursor=Cursor("timestamp", "integer", unit="epoch_ms"),
        deletions="never",
    )
    source = ListSource(stream)
    sync(source, tmp_path)
    stream.records = [HELD_BACK, status(1_000), status(2_000)]

    sync(source, tmp_path)

    assert [since for name, since in source.reads] == [None, 1_000]


def test_past_the_bound_one_line_says_more_came_and_the_log_names_each(tmp_path: Path) -> None:
    many = [Notice(f"dataset pg/t{i} is held back: map pg") for i in range(NOTICES_PER_STREAM + 5)]
    stream = ListStream("services", "databaseService", [*services("a"), *many])

    result = sync(ListSource(stream), tmp_path)

    assert result.warnings == [
        *(f"stream services: {n.message}" for n in many[:NOTICES_PER_STREAM]),
        "stream services: its reader has more notices; the log names each",
    ]


def test_a_stream_whose_empty_read_is_complete_takes_it_for_deletions_not_an_outage(
    tmp_path: Path,
) -> None:
    stream = ListStream("services", "databaseService", services("a"), deletions="complete")
    source = ListSource(stream)
    sync(source, tmp_path)

    stream.records = [HELD_BACK]
    emptied = sync(source, tmp_path)

    # Every entity of the stream would go: the fail-safe holds that back, as for any stream.
    assert emptied.counters.refused == 1
    assert not any("looks like an outage" in w for w in emptied.warnings), emptied.warnings
    assert any("deletions refused" in w for w in emptied.warnings), emptied.warnings
