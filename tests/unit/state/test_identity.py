"""Each state file has an id of its own, made with it and never changed: what sinks that keep
their own record of what they wrote (a JSONL file) key it by."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb

from syncer.state import StateStore
from syncer.state.schema import MIGRATIONS

VERSION = "1.2.3-test"


def state_id(path: Path | str) -> str:
    store = StateStore.open(path, version=VERSION)
    try:
        return store.state_id
    finally:
        store.close()


def test_a_new_state_file_gets_a_random_uuid_that_stays_with_it(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    made = state_id(path)
    assert uuid.UUID(made).version == 4
    assert state_id(path) == made  # reopened: the same
    read_only = StateStore.open(path, version=VERSION, read_only=True)
    try:
        assert read_only.state_id == made
    finally:
        read_only.close()


def test_a_state_file_made_again_at_the_same_path_has_another_id(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    first = state_id(path)
    path.unlink()
    assert state_id(path) != first
    assert state_id(":memory:") != state_id(":memory:")


def test_a_file_upgraded_from_schema_4_gets_its_id_then(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    con = duckdb.connect(str(path))  # a file as syncer left it before state ids
    con.execute(
        "CREATE TABLE schema_version (version INTEGER, syncer_version VARCHAR, "
        "migrated_at TIMESTAMPTZ)"
    )
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        con.execute(script)
        con.execute("INSERT INTO schema_version VALUES (?, '0.4', now())", [number])
    con.close()
    made = state_id(path)
    assert uuid.UUID(made) and state_id(path) == made
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM state_identity").fetchall() == [(1,)]
    finally:
        con.close()
