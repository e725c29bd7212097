"""Events read back from a real state file: versions count each entity's changes, and a
selection picks changes by run, time, event type, entity type, FQN and dead letters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from syncer.errors import ConfigError
from syncer.eventlog import Selection, histories, parse_time, select
from syncer.events import EventFilter
from tests.support.engine import SCHEMA, Engine, table, tables
from tests.support.sinks import MemorySink

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """Three runs: t00..t02 created; t00's id column becomes BIGINT; t00 is dropped."""
    engine = Engine(tmp_path)
    engine.write_tables(tables(3))
    engine.run()
    engine.write_tables(
        [table("t00", columns=[{"name": "id", "data_type": "BIGINT"}]), *tables(3)[1:]]
    )
    engine.run()
    engine.write_tables(tables(3)[1:])
    engine.run(deletions={"fail_safe_percent": 100})
    return engine


@pytest.fixture
def log(engine: Engine) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(engine.state_path), read_only=True) as connection:
        yield connection


def seq_of(engine: Engine, fqn: str, kind: str) -> int:
    return int(
        engine.rows("SELECT seq FROM change_log WHERE fqn = ? AND kind = ?", [fqn, kind])[0][0]
    )


# --- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2024-04-30", datetime(2024, 4, 30, tzinfo=UTC)),
        ("2024-04-30T08:15", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
        ("2024-04-30T08:15:00+02:00", datetime(2024, 4, 30, 6, 15, tzinfo=UTC)),
        ("2024-04-30T08:15:00Z", datetime(2024, 4, 30, 8, 15, tzinfo=UTC)),
    ],
)
def test_a_time_is_an_age_or_an_iso_date_or_time_in_utc_unless_it_says(
    text: str, expected: datetime
) -> None:
    assert parse_time(text, now=NOW) == expected


def test_a_time_that_is_neither_says_what_is_accepted() -> None:
    with pytest.raises(ConfigError, match=r"time 'yesterday': use an ISO date or time .* 2h"):
        parse_time("yesterday")


# --- versions -----------------------------------------------------------------------------------


def test_an_entitys_versions_count_its_changes_in_the_log(
    engine: Engine, log: duckdb.DuckDBPyConnection
) -> None:
    t00 = f"{SCHEMA}.t00"
    seqs = [seq_of(engine, t00, k) for k in ("created", "updated", "deleted")]
    t01 = seq_of(engine, f"{SCHEMA}.t01", "created")

    known = histories(log, [*seqs, t01])

    assert [known[s].ordinal for s in seqs] == [1, 2, 3]
    assert known[t01].ordinal == 1
    assert all(h.committed_at is not None for h in known.values())  # each run's start


# --- selections ---------------------------------------------------------------------------------


def test_a_selection_by_run_lists_its_changes_oldest_first(
    engine: Engine, log: duckdb.DuckDBPyConnection
) -> None:
    chosen = select(log, Selection(workflow="test", run_id=2))

    assert [(s.change.kind, s.change.key) for s in chosen] == [("updated", f"{SCHEMA}.t00")]
    assert chosen[0].history.ordinal == 2
    assert chosen[0].dead is None


def test_a_selection_by_event_type_entity_type_and_fqn(
    engine: Engine, log: duckdb.DuckDBPyConnection
) -> None:
    deleted = EventFilter.model_validate({"event_types": ["entitySoftDeleted"]})
    tables_only = EventFilter.model_validate({"entity_types": ["table"], "fqn": ["*.t0[12]"]})

    assert [s.change.key for s in select(log, Selection(filter=deleted))] == [f"{SCHEMA}.t00"]
    assert [s.change.key for s in select(log, Selection(filter=tables_only))] == [
        f"{SCHEMA}.t01",
        f"{SCHEMA}.t02",
    ]


def test_a_selection_by_time_and_limit_keeps_the_most_recent(
    engine: Engine, log: duckdb.DuckDBPyConnection
) -> None:
    everything = select(log, Selection())
    recent = select(log, Selection(limit=2))
    future = select(log, Selection(since=datetime.now(UTC) + timedelta(hours=1)))
    past = select(log, Selection(until=datetime(2000, 1, 1, tzinfo=UTC)))

    assert len(everything) == 8  # service, database, schema, 3 tables; an update; a deletion
    assert [s.change.seq for s in recent] == [s.change.seq for s in everything[-2:]]
    assert future == [] and past == []


def test_a_selection_of_failed_changes_lists_dead_letters_with_their_sink(
    tmp_path: Path,
) -> None:
    engine = Engine(tmp_path)
    engine.write_tables(tables(2))
    picky = MemorySink()
    picky.refuse = {f"{SCHEMA}.t01"}
    picky.dead_letter_after = 1
    engine.run(sinks={"picky": picky, "other": MemorySink()})

    with duckdb.connect(str(engine.state_path), read_only=True) as log:
        dead = select(log, Selection(workflow="test", failed=True))
        other = select(log, Selection(failed=True, sink="other"))

    assert [(s.change.key, s.dead.sink, s.dead.attempts) for s in dead if s.dead] == [
        (f"{SCHEMA}.t01", "picky", 1)
    ]
    assert dead[0].dead is not None and dead[0].dead.last_error == f"refused {SCHEMA}.t01"
    assert other == []
