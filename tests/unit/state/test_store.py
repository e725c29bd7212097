"""The state file: created and migrated on open, refused with a clear message when unusable."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from syncer.state import (
    Batch,
    ChangeRow,
    Counters,
    StateError,
    StateLockedError,
    StateStore,
    Watermark,
)
from syncer.state.schema import MIGRATIONS, SCHEMA_VERSION, VIEWS

TABLES = {
    "runs",
    "run_streams",
    "watermarks",
    "entities",
    "changes",
    "deliveries",
    "pending_deliveries",
    "id_high_water",
    "violations",
    "schema_version",
}
VERSION = "1.2.3-test"


def open_store(path: Path | str, *, read_only: bool = False) -> StateStore:
    return StateStore.open(path, version=VERSION, read_only=read_only)


def objects(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'main'"
        ).fetchall()
        return dict(rows)
    finally:
        con.close()


def test_opening_a_new_path_creates_every_table_and_view(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.duckdb"
    open_store(path).close()
    found = objects(path)
    assert {t for t, kind in found.items() if kind == "BASE TABLE"} >= TABLES
    assert {t for t, kind in found.items() if kind == "VIEW"} == set(VIEWS)


def test_the_schema_version_is_recorded_once_and_reopening_does_not_migrate_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.duckdb"
    open_store(path).close()
    open_store(path).close()
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute("SELECT version, syncer_version FROM schema_version ORDER BY 1").fetchall()
    con.close()
    assert rows == [(v, VERSION) for v in range(1, SCHEMA_VERSION + 1)]


def test_an_older_file_is_migrated_forward_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    con = duckdb.connect(str(path))  # a file as the first release of syncer left it
    con.execute(MIGRATIONS[0])
    con.execute(
        "CREATE TABLE schema_version (version INTEGER, syncer_version VARCHAR, "
        "migrated_at TIMESTAMPTZ)"
    )
    con.execute("INSERT INTO schema_version VALUES (1, '0.0.1', now())")
    con.execute(
        "INSERT INTO runs (run_id, workflow, status, mode, syncer_version, config_fingerprint, "
        "started_at) VALUES (7, 'shop', 'succeeded', 'incremental', '0.0.1', 'fp', now())"
    )
    con.close()
    store = open_store(path)
    try:
        versions = store.connection.execute("SELECT max(version) FROM schema_version").fetchall()
        assert versions == [(SCHEMA_VERSION,)]
        assert store.start_run("shop", "incremental", "fp", 1) == 8
    finally:
        store.close()


def test_every_view_can_be_queried_on_an_empty_state(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.duckdb")
    try:
        for view in VIEWS:
            assert store.connection.execute(f"SELECT * FROM {view}").fetchall() == []
    finally:
        store.close()


def test_a_file_from_a_newer_syncer_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_version VALUES (?, '9.1.0', ?)",
        [SCHEMA_VERSION + 6, datetime.now(UTC)],
    )
    con.close()
    with pytest.raises(StateError) as caught:
        open_store(path)
    message = str(caught.value)
    assert f"written by syncer 9.1.0 (schema {SCHEMA_VERSION + 6})" in message
    assert f"this is syncer {VERSION} (schema {SCHEMA_VERSION})" in message
    assert "upgrade syncer" in message and str(path) in message


def test_a_file_of_random_bytes_is_refused_as_not_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    path.write_bytes(os.urandom(64 * 1024))
    with pytest.raises(StateError) as caught:
        open_store(path)
    assert not isinstance(caught.value, StateLockedError)
    assert str(caught.value).startswith(f"{path} is not a syncer state file")
    assert "point --state at another file" in str(caught.value)


def test_a_duckdb_file_of_something_else_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE orders (id INTEGER)")
    con.close()
    with pytest.raises(StateError, match="is a DuckDB file but not a syncer state file"):
        open_store(path)
    assert objects(path) == {"orders": "BASE TABLE"}


def test_a_second_process_is_told_which_pid_holds_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    open_store(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StateLockedError) as caught:
            open_store(path)
        assert f"in use by another process (PID {holder.pid})" in str(caught.value)
        assert str(path) in str(caught.value)
    finally:
        holder.communicate("", timeout=30)
    open_store(path).close()  # free again once the holder is gone


def test_a_read_only_open_of_a_missing_file_says_to_run_first(tmp_path: Path) -> None:
    path = tmp_path / "absent.duckdb"
    with pytest.raises(StateError, match=r"no state file at .*absent\.duckdb: run `syncer run"):
        open_store(path, read_only=True)
    assert not path.exists()


def test_a_read_only_store_reads_but_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    open_store(path).close()
    store = open_store(path, read_only=True)
    try:
        assert store.last_seq("shop") == 0
        with pytest.raises(duckdb.Error):
            store.start_run("shop", "incremental", "fp", 1)
    finally:
        store.close()


def commit(store: StateStore, run_id: int, *changes: tuple[str, str]) -> list[int]:
    batch = Batch(run_id, "shop", "tables")
    for key, kind in changes:
        batch.changes.append(
            ChangeRow(
                key,
                "table",
                "s.d.x",
                ["s.d.x"],
                kind,
                f"fp-{key}",
                None,
                [],
                None,
                f'{{"name": "{key}"}}',
            )
        )
    batch.counters = Counters(scanned=len(changes), created=len(changes))
    return store.commit(batch)


def test_a_committed_batch_is_counted_on_its_run_and_numbered_in_order(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.duckdb")
    try:
        run = store.start_run("shop", "incremental", "fp", 1)
        assert commit(store, run, ("a", "created"), ("b", "created")) == [1, 2]
        assert commit(store, run, ("c", "created")) == [3]
        assert store.run_counters(run).created == 3
        assert [c.key for c in store.changes_after("shop", 1, 3, 10)] == ["b", "c"]
        assert store.last_seq("shop") == 3
        assert store.last_seq("other") == 0
    finally:
        store.close()
    store = open_store(tmp_path / "state.duckdb")  # numbering continues after a reopen
    try:
        assert commit(store, store.start_run("shop", "incremental", "fp", 1), ("d", "created")) == [
            4
        ]
    finally:
        store.close()


def test_a_failed_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.duckdb")
    try:
        run = store.start_run("shop", "incremental", "fp", 1)
        batch = Batch(run, "shop", "tables", watermark=Watermark("updated_at", "datetime", "x"))
        batch.changes.append(
            ChangeRow("a", "table", None, [], "created", "fp", None, [], None, "not json")
        )
        with pytest.raises(duckdb.Error):
            store.commit(batch)
        assert store.connection.execute("SELECT count(*) FROM entities").fetchone() == (0,)
        assert store.watermark("shop", "tables") is None
        assert commit(store, run, ("b", "created")) == [1]  # no gap left by the failed batch
    finally:
        store.close()


def test_runs_left_running_by_a_dead_process_are_marked_crashed(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.duckdb")
    try:
        stale = store.start_run("shop", "incremental", "fp", 1)
        other = store.start_run("other", "incremental", "fp", 1)
        assert store.mark_crashed("shop") == [stale]
        statuses = dict(store.connection.execute("SELECT run_id, status FROM runs").fetchall())
        assert statuses == {stale: "crashed", other: "running"}
    finally:
        store.close()


def test_reset_forgets_one_workflow_only(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.duckdb")
    try:
        commit(store, store.start_run("shop", "incremental", "fp", 1), ("a", "created"))
        other = store.start_run("other", "incremental", "fp", 1)
        batch = Batch(other, "other", "tables")
        batch.changes.append(
            ChangeRow("z", "table", None, [], "created", "fp", None, [], None, "{}")
        )
        store.commit(batch)
        store.reset("shop")
        rows = store.connection.execute(
            "SELECT DISTINCT workflow FROM runs UNION SELECT workflow FROM changes "
            "UNION SELECT workflow FROM entities"
        ).fetchall()
        assert rows == [("other",)]
    finally:
        store.close()
