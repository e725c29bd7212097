"""The fleet view over real state files made by real runs: the summary each run leaves beside its
state file, one file's status (read, busy, unreadable), the glob, SQL over many files, and the
metrics of every workflow."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncer import fleet
from syncer.state import SCHEMA_VERSION, VIEWS
from syncer.statefile import open_state
from syncer.steps import Change, Refusal, Refusals
from syncer.testing.doubles import MemorySink
from tests.support.engine import Engine, tables

BLOCK = 256 * 1024  # DuckDB's block size; three 4 KB headers come first


class FinalRefusals(MemorySink):
    """Refuses its chosen keys for good: each refusal becomes a dead letter at once."""

    def write(self, changes: Sequence[Change]) -> Refusals:
        refused = super().write(changes)
        return {
            seq: Refusal(str(reason), final=True) for seq, reason in refused.items()
        }  # DuckDB's block size; three 4 KB headers come first


@pytest.fixture
def shop(tmp_path: Path) -> Engine:
    engine = Engine(tmp_path / "shop", workflow="shop")
    engine.directory.mkdir()
    engine.write_tables(tables(3))
    return engine


def summary(engine: Engine) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(fleet.summary_path(engine.state_path).read_bytes())
    return document


def statuses(engine: Engine) -> dict[str, fleet.WorkflowStatus]:
    found = fleet.read_file(engine.state_path)
    assert found.access == "read", found.reason
    return {s.workflow: s for s in found.workflows}


@pytest.fixture
def holder(shop: Engine) -> Iterator[subprocess.Popen[str]]:
    """Another process holding `shop`'s state file as a run does: open for writing."""
    shop.run()
    program = (
        "import sys\n"
        "from syncer.statefile import open_state\n"
        f"store = open_state({str(shop.state_path)!r})\n"
        "print('holding', flush=True)\n"
        "sys.stdin.read()\n"
        "store.close()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "holding\n"
    try:
        yield process
    finally:
        process.communicate(timeout=30)


# --- the summary beside the state file ---------------------------------------------------------


def test_a_finished_run_leaves_a_summary_named_after_its_state_file(shop: Engine) -> None:
    result = shop.run(sinks={"memory": MemorySink()})

    document = summary(shop)
    assert fleet.summary_path(shop.state_path).name == "state.duckdb.summary.json"
    assert document["format"] == fleet.SUMMARY_FORMAT
    assert document["state_schema"] == SCHEMA_VERSION
    assert document["written_by"] == {"workflow": "shop", "run_id": result.run_id}
    [flow] = document["workflows"]
    assert flow["workflow"] == "shop" and flow["status"] == "succeeded"
    assert flow["total"] == result.counters.as_dict()
    assert flow["streams"]["tables"]["created"] == 3
    assert flow["sinks"] == [{"sink": "memory", "backlog": 0, "dead_letters": 0}]
    assert flow["duration_seconds"] >= 0 and flow["ended_at"] >= flow["started_at"]


def test_the_summary_follows_its_published_json_schema(shop: Engine) -> None:
    down = MemorySink()
    down.down = True
    shop.run(sinks={"down": down})
    schema = orjson.loads(files("syncer.schemas").joinpath("summary.schema.json").read_bytes())

    jsonschema.validate(summary(shop), schema, format_checker=jsonschema.FormatChecker())


def test_the_summary_holds_every_workflow_of_the_file_as_a_reader_finds_it_there(
    shop: Engine,
) -> None:
    crm = Engine(shop.directory, workflow="crm")
    crm.write_tables(tables(2, prefix="c"))
    shop.run()
    crm.run()

    document = summary(shop)
    written = {d["workflow"]: fleet.WorkflowStatus.from_document(d) for d in document["workflows"]}
    assert document["written_by"] == {"workflow": "crm", "run_id": 2}
    assert written == statuses(shop)
    assert sorted(written) == ["crm", "shop"]


def test_a_partial_run_leaves_its_summary_with_the_sinks_backlog_and_dead_letters(
    shop: Engine,
) -> None:
    down = MemorySink()
    down.down = True
    first = shop.run(sinks={"flaky": down, "memory": MemorySink()})
    [after_first] = fleet.read_summary(shop.state_path)[1]  # type: ignore[index]
    # The sink is back, and refuses the one new change for good: a dead letter.
    shop.write_tables(tables(4))
    picky = FinalRefusals()
    picky.refuse = {"svc.db.sch.t03"}
    second = shop.run(sinks={"flaky": picky, "memory": MemorySink()})
    [after_second] = fleet.read_summary(shop.state_path)[1]  # type: ignore[index]

    assert (first.status, second.status) == ("partial", "partial")
    assert after_first.status == "partial" and after_first.error is not None
    assert {s.sink: s.backlog for s in after_first.sinks} == {"flaky": 6, "memory": 0}
    assert (after_second.backlog, after_second.dead_letters) == (0, 1)
    assert after_second.sinks == (
        fleet.SinkStatus("flaky", 0, 1),
        fleet.SinkStatus("memory", 0, 0),
    )
    assert after_second == statuses(shop)["shop"]


def test_a_run_whose_source_failed_still_leaves_its_summary(shop: Engine) -> None:
    shop.write([{"name": "tables", "entity_type": "table", "records": [{"raise": "gone"}]}])

    result = shop.run()

    assert result.status == "failed"
    [flow] = summary(shop)["workflows"]
    assert flow["status"] == "failed" and "gone" in flow["error"]


def test_a_plan_leaves_no_summary(shop: Engine) -> None:
    shop.run(dry_run=True)

    assert not fleet.summary_path(shop.state_path).exists()


def test_a_summary_that_cannot_be_written_leaves_the_run_as_it_ended(shop: Engine) -> None:
    fleet.summary_path(shop.state_path).mkdir(parents=True)  # a folder where the file goes

    result = shop.run()

    assert result.status == "succeeded"
    assert shop.rows("SELECT status FROM runs") == [("succeeded",)]


def test_a_summary_of_another_format_is_not_read(shop: Engine) -> None:
    shop.run()
    path = fleet.summary_path(shop.state_path)
    path.write_bytes(orjson.dumps({**summary(shop), "format": fleet.SUMMARY_FORMAT + 1}))

    assert fleet.read_summary(shop.state_path) is None


# --- one state file ----------------------------------------------------------------------------


def test_a_state_file_held_by_a_run_is_busy_and_shown_from_its_summary(
    shop: Engine, holder: subprocess.Popen[str]
) -> None:
    before = shop.state_path.read_bytes()

    found = fleet.read_file(shop.state_path)

    assert found.access == "busy"
    assert found.reason is not None and f"(PID {holder.pid})" in found.reason
    assert [s.workflow for s in found.workflows] == ["shop"]
    assert found.workflows[0].status == "succeeded" and found.summary_at is not None
    assert shop.state_path.read_bytes() == before  # neither written nor torn
    assert holder.poll() is None


def test_a_busy_file_without_a_summary_is_busy_with_no_workflows(
    shop: Engine, holder: subprocess.Popen[str]
) -> None:
    fleet.summary_path(shop.state_path).unlink()

    found = fleet.read_file(shop.state_path)

    assert (found.access, found.workflows) == ("busy", [])
    assert found.reason is not None and found.reason.endswith("no summary beside it yet")


def test_a_run_left_running_by_a_dead_process_reads_as_crashed(shop: Engine) -> None:
    shop.run()
    store = open_state(shop.state_path)
    store.start_run("shop", "incremental", "fp", 1)  # and the process "dies": never finished
    store.close()

    assert statuses(shop)["shop"].status == "crashed"


def test_a_damaged_state_file_is_unreadable_with_a_one_line_reason(shop: Engine) -> None:
    shop.write_tables(tables(300))
    shop.run()
    with shop.state_path.open("r+b") as file:
        for start in range(3 * 4096, shop.state_path.stat().st_size, BLOCK):
            file.seek(start + 1000)
            file.write(b"\xa5" * 64)

    found = fleet.read_file(shop.state_path)

    assert found.access == "unreadable" and found.workflows == []
    assert found.reason is not None and "\n" not in found.reason
    assert str(shop.state_path) in found.reason


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "empty"])
def test_a_file_that_is_not_a_state_file_is_unreadable_and_says_so(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "other.duckdb"
    if kind == "sqlite":
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    elif kind == "duckdb":
        duckdb.connect(str(path)).execute("CREATE TABLE t (x INT)").close()
    else:
        path.touch()

    found = fleet.read_file(path)

    assert found.access == "unreadable"
    assert found.reason is not None and "not a syncer state file" in found.reason


# --- many state files --------------------------------------------------------------------------


def test_the_glob_crosses_folders_and_names_each_file_once_but_never_a_summary(
    tmp_path: Path,
) -> None:
    for folder in ("a", "b/c"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "state.duckdb").touch()
        (tmp_path / folder / "state.duckdb.summary.json").touch()
    pattern = str(tmp_path / "**" / "*")

    found = fleet.state_files([pattern, str(tmp_path / "a" / "state.duckdb")])

    assert found == [tmp_path / "a" / "state.duckdb", tmp_path / "b" / "c" / "state.duckdb"]


def test_fleet_sql_unions_each_view_over_every_file_with_the_file_it_came_from(
    shop: Engine, tmp_path: Path
) -> None:
    other = Engine(tmp_path / "other", workflow="shop")  # the same name in another file
    other.directory.mkdir()
    other.write_tables(tables(5))
    shop.run()
    other.run()
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database")

    connection, attached, skipped = fleet.attach_fleet([shop.state_path, other.state_path, junk])
    try:
        rows = connection.execute(
            "SELECT state_file, workflow, status, created FROM run_summary ORDER BY ALL"
        ).fetchall()
        counts = connection.execute(
            "SELECT state_file, count(*) FROM current_entities GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        views = {
            r[0] for r in connection.execute("SELECT view_name FROM duckdb_views()").fetchall()
        }
    finally:
        connection.close()

    assert attached == [shop.state_path, other.state_path]
    assert [(s.path, s.access) for s in skipped] == [(junk, "unreadable")]
    assert rows == [
        (str(other.state_path), "shop", "succeeded", 8),
        (str(shop.state_path), "shop", "succeeded", 6),
    ]
    assert counts == [(str(other.state_path), 8), (str(shop.state_path), 6)]
    assert set(VIEWS) <= views


def test_fleet_sql_skips_a_busy_file_and_never_writes_any_file(
    shop: Engine, tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    free = Engine(tmp_path / "free", workflow="free")
    free.directory.mkdir()
    free.write_tables(tables(1))
    free.run()

    connection, attached, skipped = fleet.attach_fleet([shop.state_path, free.state_path])
    try:
        assert attached == [free.state_path]
        assert [(s.path, s.access) for s in skipped] == [(shop.state_path, "busy")]
        for statement in (
            "DELETE FROM state_1.runs",
            f"COPY (SELECT 1) TO '{tmp_path / 'leak.csv'}'",
            f"ATTACH '{tmp_path / 'new.duckdb'}' AS new",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                connection.execute(statement)
    finally:
        connection.close()
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "new.duckdb").exists()
    assert holder.poll() is None


def test_the_textfile_has_one_series_per_workflow_and_state_file(
    shop: Engine, tmp_path: Path
) -> None:
    other = Engine(tmp_path / "other", workflow="shop")
    other.directory.mkdir()
    other.write_tables(tables(2))
    down = MemorySink()
    down.down = True
    shop.run(sinks={"catalog": down})
    other.run()
    textfile = tmp_path / "prom" / "fleet.prom"

    fleet.write_fleet_textfile(
        textfile, list(fleet.read_fleet([shop.state_path, other.state_path]))
    )

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(textfile.read_text())
        for s in family.samples
    }

    def value(name: str, state: Path, **labels: str) -> float:
        key = tuple(sorted({"workflow": "shop", "state_file": str(state), **labels}.items()))
        return samples[(name, key)]

    assert value("syncer_last_run_status", shop.state_path, status="partial") == 1
    assert value("syncer_last_run_status", other.state_path, status="succeeded") == 1
    assert value("syncer_sink_backlog", shop.state_path, sink="catalog") == 6
    assert value("syncer_entities_total", other.state_path, stream="tables", kind="created") == 2
    assert (
        value("syncer_last_success_timestamp_seconds", other.state_path)
        == statuses(other)["shop"].last_success_at.timestamp()  # type: ignore[union-attr]
    )
    assert [k for k in samples if k[0] == "syncer_last_success_timestamp_seconds"] == [
        (
            "syncer_last_success_timestamp_seconds",
            (("state_file", str(other.state_path)), ("workflow", "shop")),
        )
    ]  # a workflow that never succeeded has no last success
    assert list(textfile.parent.iterdir()) == [textfile]  # no temp file left behind
