"""The JSON Lines sink writes each change exactly once, even across crashes and re-deliveries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from syncer.errors import SinkError
from syncer.sinks import jsonl
from syncer.sinks.jsonl import JsonlConfig, JsonlSink
from syncer.steps import Change, SinkContext
from tests.support.engine import Engine, tables


def change(
    seq: int,
    key: str = "svc.db.sch.t",
    kind: str = "created",
    *,
    workflow: str = "shop",
    version: str = "",
) -> Change:
    return Change(
        seq=seq,
        run_id=1,
        workflow=workflow,
        stream="tables",
        key=f"{key}{seq}",
        entity_type="table",
        kind=kind,  # type: ignore[arg-type]
        fingerprint=f"fp{seq}{version}",
        old_fingerprint=None,
        changed_fields=["description"] if kind == "updated" else [],
        payload_json=f'{{"name": "t{seq}"}}',
    )


def deliver(path: Path, *changes: Change, state: str | None = None, workflow: str = "shop") -> None:
    sink = JsonlSink(JsonlConfig(path=path))
    sink.open(SinkContext(workflow, None, state_id=state))
    try:
        assert sink.write(changes) == {}
    finally:
        sink.close()


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def seqs(path: Path) -> list[int]:
    return [line["seq"] for line in lines(path)]


def written(path: Path) -> list[tuple[str | None, str, int, str]]:
    """(state, workflow, seq, fingerprint) of each line, in file order."""
    return [
        (line["state"], line["workflow"], line["seq"], line["fingerprint"]) for line in lines(path)
    ]


def test_each_change_is_one_line_with_the_entity_inline(tmp_path: Path) -> None:
    path = tmp_path / "out" / "changes.jsonl"
    deliver(path, change(1), change(2, kind="updated"))
    first, second = (orjson.loads(line) for line in path.read_bytes().splitlines())
    assert first == {
        "seq": 1,
        "runId": 1,
        "workflow": "shop",
        "state": None,
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


# --- whose lines: the state file's id and the workflow ------------------------------------------

A, B = "state-a", "state-b"


def test_each_line_names_the_state_file_that_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), state=A)
    assert lines(path)[0]["state"] == A


def test_a_new_state_file_writes_the_seqs_an_old_one_wrote_to_the_same_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), change(2), change(3), state=A)
    # the state file was deleted: the new one numbers from 1 again, under a new id
    deliver(path, change(1), change(2), state=B)
    assert written(path) == [
        (A, "shop", 1, "fp1"),
        (A, "shop", 2, "fp2"),
        (A, "shop", 3, "fp3"),
        (B, "shop", 1, "fp1"),
        (B, "shop", 2, "fp2"),
    ]


def test_two_state_files_sharing_a_path_each_write_every_change_once(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), change(2), state=A)
    deliver(path, change(1), change(2), change(3), state=B)
    deliver(path, change(1), change(2), change(3), state=A)  # a re-delivery after a crash
    deliver(path, change(2), change(3), change(4), state=B)
    deliver(path, change(4), state=A)
    for state, expected in ((A, [1, 2, 3, 4]), (B, [1, 2, 3, 4])):
        assert [seq for s, _, seq, _ in written(path) if s == state] == expected


def test_two_workflows_of_one_state_file_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), change(2), state=A)
    deliver(path, change(1, workflow="other"), state=A, workflow="other")
    assert [(w, seq) for _, w, seq, _ in written(path)] == [
        ("shop", 1),
        ("shop", 2),
        ("other", 1),
    ]


def test_after_a_restore_from_a_backup_only_the_changes_the_file_holds_are_skipped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, *(change(seq) for seq in range(1, 6)), state=A)
    # restored from a backup taken at seq 3 (offset 2): seq 3 is derived again as it was,
    # 4 and 5 are other changes now, 6 is new
    restored = [change(3), change(4, version="'"), change(5, version="'"), change(6)]
    deliver(path, *restored, state=A)
    assert [(seq, fp) for _, _, seq, fp in written(path)][5:] == [
        (4, "fp4'"),
        (5, "fp5'"),
        (6, "fp6"),
    ]
    # a crash before the offset moved: the restored history is not written twice
    deliver(path, *restored[1:], change(7), state=A)
    assert [(seq, fp) for _, _, seq, fp in written(path)][8:] == [(7, "fp7")]


def test_lines_without_a_state_id_count_as_the_first_state_file_to_append_after_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "changes.jsonl"
    deliver(path, change(1), change(2))  # no state id: as a file written before ids were
    deliver(path, change(1), change(2), change(3), state=A)  # the upgraded state file
    deliver(path, change(1), change(2), state=B)  # another one: the old lines are not B's
    assert written(path) == [
        (None, "shop", 1, "fp1"),
        (None, "shop", 2, "fp2"),
        (A, "shop", 3, "fp3"),
        (B, "shop", 1, "fp1"),
        (B, "shop", 2, "fp2"),
    ]


def test_the_file_is_read_back_across_chunks_and_lines_longer_than_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "_CHUNK", 64)
    path = tmp_path / "changes.jsonl"
    deliver(path, *(change(seq) for seq in range(1, 20)), state=A)
    deliver(path, *(change(seq) for seq in range(1, 30)), state=B)
    deliver(path, *(change(seq) for seq in range(1, 25)), state=A)
    assert [seq for s, _, seq, _ in written(path) if s == A] == list(range(1, 25))
    assert [seq for s, _, seq, _ in written(path) if s == B] == list(range(1, 30))


def test_a_line_that_is_not_a_change_further_back_fails_the_write_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "changes.jsonl"
    # the last line is a change, so the sink opens; the line before it is not
    before = b'{"note": "mine"}\n' + jsonl._line(change(1), A)
    path.write_bytes(before)
    sink = JsonlSink(JsonlConfig(path=path))
    sink.open(SinkContext("shop", None, state_id=B))
    try:
        with pytest.raises(SinkError, match="is not a syncer change"):
            sink.write([change(1)])
    finally:
        sink.close()
    assert path.read_bytes() == before


def test_a_deleted_state_file_writes_its_changes_again(tmp_path: Path) -> None:
    engine = Engine(tmp_path)
    path = tmp_path / "changes.jsonl"
    engine.write_tables(tables(3))
    engine.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    engine.state_path.unlink()  # a fresh start: the new state file numbers from 1 again
    result = engine.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    assert result.deliveries[0].delivered == 6
    assert seqs(path) == [1, 2, 3, 4, 5, 6] * 2
    first, second = (
        {line["state"] for line in lines(path)[:6]},
        {line["state"] for line in lines(path)[6:]},
    )
    assert len(first) == len(second) == 1 and first != second


def test_two_state_files_sharing_one_path_write_each_change_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    shop, other = Engine(tmp_path / "shop"), Engine(tmp_path / "other", workflow="other")
    for engine in (shop, other):
        engine.directory.mkdir()
        engine.write_tables(tables(3))
    shop.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    other.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    # shop's acknowledgement was lost: it offers its changes again, with one more
    con = duckdb.connect(str(shop.state_path))
    con.execute("""UPDATE deliveries SET "offset" = 0""")
    con.close()
    shop.write_tables(tables(4))
    shop.run(sinks={"file": JsonlSink(JsonlConfig(path=path))})
    by_workflow: dict[str, list[int]] = {}
    for line in lines(path):
        by_workflow.setdefault(line["workflow"], []).append(line["seq"])
    assert by_workflow == {"test": [1, 2, 3, 4, 5, 6, 7], "other": [1, 2, 3, 4, 5, 6]}
