"""The JSON Lines sink writes each change exactly once, even across crashes and re-deliveries."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest

from syncer.errors import SinkError
from syncer.sinks.jsonl import JsonlConfig, JsonlSink
from syncer.steps import Change, SinkContext
from tests.support.engine import Engine, tables


def change(seq: int, key: str = "svc.db.sch.t", kind: str = "created") -> Change:
    return Change(
        seq=seq,
        run_id=1,
        workflow="shop",
        stream="tables",
        key=f"{key}{seq}",
        entity_type="table",
        kind=kind,  # type: ignore[arg-type]
        fingerprint=f"fp{seq}",
        old_fingerprint=None,
        changed_fields=["description"] if kind == "updated" else [],
        payload_json=f'{{"name": "t{seq}"}}',
    )


def deliver(path: Path, *changes: Change) -> None:
    sink = JsonlSink(JsonlConfig(path=path))
    sink.open(SinkContext("shop", None))
    try:
        assert sink.write(changes) == {}
    finally:
        sink.close()


def seqs(path: Path) -> list[int]:
    return [orjson.loads(line)["seq"] for line in path.read_bytes().splitlines()]


def test_each_change_is_one_line_with_the_entity_inline(tmp_path: Path) -> None:
    path = tmp_path / "out" / "changes.jsonl"
    deliver(path, change(1), change(2, kind="updated"))
    first, second = (orjson.loads(line) for line in path.read_bytes().splitlines())
    assert first == {
        "seq": 1,
        "runId": 1,
        "workflow": "shop",
        "kind": "created",
        "entityType": "table",
        "fqn": "svc.db.sch.t1",
        "fingerprint": "fp1",
        "changedFields": [],
        "entity": {"name": "t1"},
    }
    assert second["kind"] == "updated" and second["changedFields"] == ["description"]


def test_changes_already_in_the_file_are_not_written_again(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), change(2))
    deliver(path, change(1), change(2), change(3))
    deliver(path, change(3))
    assert seqs(path) == [1, 2, 3]


def test_a_torn_last_line_is_dropped_on_open_and_written_again(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), change(2))
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"seq": 3, "runId": 1, "wor')  # a crash mid-write
    deliver(path, change(3), change(4))
    assert seqs(path) == [1, 2, 3, 4]
    assert path.read_bytes().startswith(whole)


def test_a_file_holding_only_a_torn_line_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    path.write_bytes(b'{"seq": 1, "ki')
    deliver(path, change(1))
    assert seqs(path) == [1]


def test_a_file_that_is_not_a_change_log_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b'{"note": "mine"}\n')
    sink = JsonlSink(JsonlConfig(path=path))
    with pytest.raises(
        SinkError, match="is not a syncer change; point the sink at a file of its own"
    ):
        sink.open(SinkContext("shop", None))
    sink.close()
    assert path.read_bytes() == b'{"note": "mine"}\n'


def test_an_unwritable_path_is_a_sink_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    sink = JsonlSink(JsonlConfig(path=blocker / "changes.jsonl"))
    with pytest.raises(SinkError, match=r"jsonl sink: cannot open .*changes\.jsonl"):
        sink.open(SinkContext("shop", None))


def test_a_redelivery_after_a_lost_acknowledgement_writes_each_change_once(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    path = tmp_path / "changes.jsonl"
    engine.write_tables(tables(3))
    engine.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    # the process died after the file was written but before the offset was committed
    con = duckdb.connect(str(engine.state_path))
    con.execute("""UPDATE deliveries SET "offset" = 0""")
    con.close()
    engine.write_tables([*tables(3), *tables(1, prefix="new")])
    engine.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    assert seqs(path) == list(range(1, 8))
    assert [orjson.loads(line)["fqn"] for line in path.read_bytes().splitlines()][-1] == (
        "svc.db.sch.new00"
    )
