"""A state file that is damaged, foreign or on a full disk is refused with a message that says
what to do, wherever DuckDB meets the problem: opening the file, or any later call of the store.
`check` reads every table; `backup` copies a file consistently and checks the copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest

from syncer import state
from syncer.state import (
    Batch,
    ChangeRow,
    Counters,
    StateDamagedError,
    StateDiskFullError,
    StateError,
    StateStore,
)
from syncer.state.connection import state_error

VERSION = "1.2.3-test"
DAMAGED = (
    r"^state file .* is damaged \(.+\); restore it from a backup or move it aside to start over$"
)
BLOCK = 256 * 1024  # DuckDB's block size; three 4 KB headers come first
ENOSPC = 'IO Error: Could not write file "{path}.wal": No space left on device'


def open_store(path: Path, *, read_only: bool = False) -> StateStore:
    return StateStore.open(path, version=VERSION, read_only=read_only)


def filled(path: Path, entities: int = 3000) -> Path:
    """A state file with `entities` live entities of ~2 KB of incompressible payload each."""
    store = open_store(path)
    try:
        run = store.start_run("shop", "incremental", "fp", 1)
        batch = Batch(run, "shop", "tables", counters=Counters(scanned=entities, created=entities))
        for i in range(entities):
            key = f"s.d.x.t{i:05d}"
            payload = f'{{"name": "t{i:05d}", "noise": "{os.urandom(1000).hex()}"}}'
            row = ChangeRow(key, "table", "s.d.x", [], "created", f"fp{i}", None, [], None, payload)
            batch.changes.append(row)
        store.commit(batch)
        store.finish_run(run, "succeeded")
    finally:
        store.close()
    return path


def table_count(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return len(con.execute("SELECT * FROM duckdb_tables()").fetchall())


def read_all(store: StateStore) -> None:
    """Calls of the store that between them read every live entity and its payload."""
    store.live_counts("shop")
    store.forget_seen()
    store.unseen("shop", "tables")
    store.changes_after("shop", 0, store.last_seq("shop"), 10_000)


# --- files that are not state files -------------------------------------------------------------


def test_a_sqlite_file_is_refused_by_its_header_before_duckdb_sees_it(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (a)")
    db.commit()
    db.close()
    before = path.read_bytes()

    for read_only in (False, True):
        with pytest.raises(StateError) as caught:
            open_store(path, read_only=read_only)
        assert str(caught.value) == (
            f"{path} is not a syncer state file (it is a SQLite database): point --state at "
            "another file, or move it away"
        )
    assert path.read_bytes() == before


def test_an_empty_file_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    path.touch()
    with pytest.raises(StateError, match=r"is not a syncer state file \(it is empty\)"):
        open_store(path)


def test_the_state_connection_never_loads_or_installs_extensions(tmp_path: Path) -> None:
    store = open_store(tmp_path / "state.duckdb")
    try:
        settings = dict(
            store.connection.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('autoinstall_known_extensions', 'autoload_known_extensions')"
            ).fetchall()
        )
    finally:
        store.close()
    assert settings == {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    }


# --- damage -------------------------------------------------------------------------------------


def test_a_file_cut_in_half_is_damaged_on_open(tmp_path: Path) -> None:
    path = filled(tmp_path / "state.duckdb")
    os.truncate(path, path.stat().st_size // 2)

    for read_only in (False, True):
        with pytest.raises(StateDamagedError, match=DAMAGED) as caught:
            open_store(path, read_only=read_only)
        assert "before its data does: it was cut short" in str(caught.value)
        assert caught.value.exit_code == 2


def test_a_corrupt_block_is_reported_as_damage_on_open_or_by_the_call_that_reads_it(
    tmp_path: Path,
) -> None:
    original = filled(tmp_path / "state.duckdb")
    size = original.stat().st_size
    surfaced: list[str] = []
    for start in range(3 * 4096, size, BLOCK):
        path = tmp_path / f"at-{start}.duckdb"
        shutil.copyfile(original, path)
        with path.open("r+b") as file:
            file.seek(start + 1000)
            file.write(b"\xa5" * 64)
        try:
            store = open_store(path)
        except StateDamagedError as exc:
            assert str(exc).startswith(f"state file {path} is damaged (")
            surfaced.append("open")
            continue
        try:
            read_all(store)
            surfaced.append("nowhere")  # a free block
        except StateDamagedError as exc:
            assert str(exc).startswith(f"state file {path} is damaged (a block's checksum")
            surfaced.append("query")
        finally:
            store.close()

    assert "query" in surfaced, surfaced  # met by a call of an opened store, and translated
    assert "open" in surfaced, surfaced


def test_check_reads_every_table_and_finds_the_damage(tmp_path: Path) -> None:
    path = filled(tmp_path / "state.duckdb")
    report = state.check(path)
    assert (report.path, report.tables) == (str(path), table_count(path))
    assert report.rows > 3000

    size = path.stat().st_size
    with path.open("r+b") as file:
        for start in range(3 * 4096, size, BLOCK):
            file.seek(start + 1000)
            file.write(b"\xa5" * 64)
    with pytest.raises(StateDamagedError, match=DAMAGED):
        state.check(path)


def test_check_refuses_a_file_that_is_not_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE orders (id INT)").close()
    with pytest.raises(StateError, match="is a DuckDB file but not a syncer state file"):
        state.check(path)
    with pytest.raises(StateError, match="no state file at"):
        state.check(tmp_path / "absent.duckdb")


# --- backup -------------------------------------------------------------------------------------


def test_a_backup_is_a_checked_copy_that_opens_as_a_state_file(tmp_path: Path) -> None:
    path = filled(tmp_path / "state.duckdb", entities=50)
    target = tmp_path / "backups" / "state-copy.duckdb"

    report = state.backup(path, target)

    assert (report.path, report.tables) == (str(target), table_count(target))
    assert not Path(f"{path}.wal").exists()  # folded into the file before the copy
    copy = open_store(target, read_only=True)
    try:
        assert copy.live_counts("shop") == {"tables": 50}
        assert copy.last_seq("shop") == 50
    finally:
        copy.close()
    assert [p.name for p in target.parent.iterdir()] == ["state-copy.duckdb"]


def test_a_backup_does_not_replace_a_file_without_force(tmp_path: Path) -> None:
    path = filled(tmp_path / "state.duckdb", entities=5)
    target = tmp_path / "copy.duckdb"
    target.write_bytes(b"an older backup")

    with pytest.raises(StateError) as caught:
        state.backup(path, target)
    assert str(caught.value) == (
        f"{target} already exists: pass --force to replace it, or choose another path"
    )
    assert target.read_bytes() == b"an older backup"

    state.backup(path, target, force=True)
    assert state.check(target).rows > 0


def test_a_damaged_file_is_not_backed_up_over_an_older_backup(tmp_path: Path) -> None:
    path = filled(tmp_path / "state.duckdb")
    target = tmp_path / "copy.duckdb"
    state.backup(path, target)
    good = target.read_bytes()
    with path.open("r+b") as file:
        for start in range(3 * 4096, path.stat().st_size, BLOCK):
            file.seek(start + 1000)
            file.write(b"\xa5" * 64)

    with pytest.raises(StateDamagedError) as caught:
        state.backup(path, target, force=True)

    assert str(caught.value).startswith(f"state file {path} is damaged (")  # the original's
    assert target.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.duckdb", "state.duckdb"]


# --- a full disk --------------------------------------------------------------------------------


def test_a_full_disk_in_any_call_says_so_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.duckdb"
    store = open_store(path)
    try:
        run = store.start_run("shop", "incremental", "fp", 1)

        def full(*args: object, **kwargs: object) -> None:
            raise duckdb.IOException(ENOSPC.format(path=path))

        monkeypatch.setattr(state.runs, "finish", full)
        with pytest.raises(StateDiskFullError) as caught:
            store.finish_run(run, "failed", "x")
        assert str(caught.value) == (
            f"no space left on device writing {path} (free some space and re-run; nothing was lost)"
        )
        assert caught.value.exit_code == 1

        def commit_fails(*args: object, **kwargs: object) -> None:
            raise duckdb.TransactionException(
                f"TransactionContext Error: Failed to commit: {ENOSPC.format(path=path)}"
            )

        monkeypatch.setattr(state.entities, "write", commit_fails)
        with pytest.raises(StateDiskFullError):
            store.commit(Batch(run, "shop", "tables"))
        assert not store.in_transaction
        assert store.connection.execute("SELECT count(*) FROM changes").fetchall() == [(0,)]
    finally:
        store.close()


def test_only_errors_about_the_file_are_translated() -> None:
    assert state_error("s.duckdb", duckdb.BinderException("Binder Error: no column x")) is None
    assert state_error("s.duckdb", ValueError("No space left on device")) is None
    found = state_error(
        "s.duckdb",
        duckdb.Error(
            "Corrupt database file: computed checksum 1 does not match stored checksum 2 in "
            "block at location 274432"
        ),
    )
    assert isinstance(found, StateDamagedError)
    assert str(found) == (
        "state file s.duckdb is damaged (a block's checksum does not match its contents, at "
        "byte 274432); restore it from a backup or move it aside to start over"
    )
