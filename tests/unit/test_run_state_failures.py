"""A run whose state file fails under it (a full disk in the middle of a commit) stops with the
state's own error: the run is recorded as failed if the file still takes that (else the next
run marks it crashed), nothing is delivered, and the next run redoes what was lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from syncer import state
from syncer.state import StateDiskFullError
from tests.support.engine import Engine, tables
from tests.support.sinks import MemorySink

ENOSPC = 'TransactionContext Error: Failed to commit: Could not write file "{}": No space left'


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = Engine(tmp_path)
    engine.write_tables(tables(3))
    return engine


def disk_full(engine: Engine) -> Any:
    def fail(*args: object, **kwargs: object) -> None:
        raise duckdb.TransactionException(ENOSPC.format(f"{engine.state_path}.wal") + " on device")

    return fail


def test_a_full_disk_mid_commit_fails_the_run_says_so_and_delivers_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = MemorySink()
    with monkeypatch.context() as patch:
        patch.setattr(state.entities, "write", disk_full(engine))
        with pytest.raises(StateDiskFullError) as caught:
            engine.run(sinks={"memory": sink})

    message = (
        f"no space left on device writing {engine.state_path} (free some space and re-run; "
        "nothing was lost)"
    )
    assert str(caught.value) == message
    assert caught.value.exit_code == 1
    assert engine.rows("SELECT status, error FROM runs") == [("failed", message)]
    assert sink.offered == []

    again = engine.run(sinks={"memory": sink})  # space freed: nothing was lost
    assert again.status == "succeeded" and again.counters.created == 6


def test_when_not_even_the_failure_can_be_recorded_the_next_run_marks_it_crashed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(state.entities, "write", disk_full(engine))
        patch.setattr(state.runs, "finish", disk_full(engine))
        with pytest.raises(StateDiskFullError) as caught:
            engine.run(sinks={"memory": MemorySink()})

    assert str(caught.value).endswith(
        "(free some space and re-run; nothing was lost); the run could not be recorded as "
        "failed either: the next run marks it crashed"
    )
    assert engine.rows("SELECT status FROM runs") == [("running",)]

    again = engine.run(sinks={"memory": MemorySink()})
    assert again.status == "succeeded" and again.counters.created == 6
    assert engine.rows("SELECT status FROM runs ORDER BY run_id") == [
        ("crashed",),
        ("succeeded",),
    ]
