"""A `syncer run` killed with SIGKILL at any moment, then run again, ends exactly where one clean
run ends: the same state, the same embedded catalog and the same JSONL lines, nothing lost and
nothing twice.

The source holds 20,000 tables committed in batches of 500, so that kills land while batches are
being committed and while sinks are being fed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncer.events import event_id
from tests.support.receiver import Receiver, Reply
from tests.support.workspace import DOUBLES, Workspace, catalog, syncer_env

pytestmark = pytest.mark.slow

TABLES = 20_000
ENTITIES = TABLES + 6  # one service, one database, four schemas
BATCH_SIZE = 500


def _workspace(root: Path) -> Workspace:
    root.mkdir()
    workspace = Workspace(root, syncer_env())
    workspace.write_source(catalog(TABLES))
    workspace.write_config(batch_size=BATCH_SIZE)
    return workspace


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one uninterrupted run leaves behind, with the size of its JSONL output."""
    workspace = _workspace(tmp_path_factory.mktemp("clean") / "ws")
    workspace.run()
    outcome = workspace.outcome()
    assert len(outcome["current_entities"]) == ENTITIES
    assert len(outcome["jsonl"]) == ENTITIES
    return {**outcome, "jsonl_size": workspace.jsonl_size()}


def _committed_tables(workspace: Workspace) -> int:
    return workspace.query("SELECT count(*) FROM current_entities WHERE entity_type = 'table'")[0][
        0
    ]


def _wal_size(workspace: Workspace) -> int:
    wal = workspace.state.with_name(workspace.state.name + ".wal")
    try:
        return wal.stat().st_size
    except FileNotFoundError:
        return 0


def _complete_jsonl_lines(workspace: Workspace) -> int:
    return workspace.jsonl.read_bytes().count(b"\n") if workspace.jsonl.exists() else 0


def _assert_same_as_clean(workspace: Workspace, clean: dict[str, Any]) -> None:
    resumed = workspace.outcome()
    for part in ("current_entities", "change_log", "catalog.entities", "catalog.columns", "jsonl"):
        assert resumed[part] == clean[part], f"{part} differs from a clean run's"


# --- one kill at a chosen moment ----------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    name: str
    # (workspace, seconds since the tables stream started or None, clean outcome) -> kill now?
    ready: Callable[[Workspace, float | None, dict[str, Any]], bool]
    # what must hold right after the kill, to show it really interrupted that phase
    interrupted: Callable[[Workspace, dict[str, Any]], None]
    # the killed run's status once the next run has looked at it: `crashed`, also when its
    # commits were all done and only delivery was cut (a run ends once every sink's has)
    status: str = "crashed"


def _nothing_committed(workspace: Workspace, clean: dict[str, Any]) -> None:
    assert _committed_tables(workspace) < TABLES


def _extraction_cut(workspace: Workspace, clean: dict[str, Any]) -> None:
    assert 0 < _committed_tables(workspace) < TABLES
    assert _complete_jsonl_lines(workspace) == 0


def _jsonl_cut(workspace: Workspace, clean: dict[str, Any]) -> None:
    assert _committed_tables(workspace) == TABLES
    assert 0 < _complete_jsonl_lines(workspace) < ENTITIES


KILL_POINTS = [
    KillPoint(
        "as soon as the run is registered",
        lambda ws, since_tables, clean: ws.logged('"run started"'),
        _nothing_committed,
    ),
    KillPoint(
        "while table batches are being committed",
        # a DuckDB write-ahead log over 1 MB: a few table batches are committed since startup
        lambda ws, since_tables, clean: (
            since_tables is not None and since_tables > 0.2 and _wal_size(ws) > 1 << 20
        ),
        _extraction_cut,
    ),
    KillPoint(
        "after the first JSONL lines are written",
        lambda ws, since_tables, clean: ws.jsonl_size() > 0,
        _jsonl_cut,
    ),
    KillPoint(
        "halfway through the JSONL output",
        lambda ws, since_tables, clean: ws.jsonl_size() > clean["jsonl_size"] // 2,
        _jsonl_cut,
    ),
]


def _kill_at(workspace: Workspace, point: KillPoint, clean: dict[str, Any]) -> None:
    process = workspace.spawn("run", workspace.config)
    tables_started: list[float] = []

    def ready() -> bool:
        if not tables_started and workspace.logged('"stream": "tables"'):
            tables_started.append(time.monotonic())
        since = time.monotonic() - tables_started[0] if tables_started else None
        return point.ready(workspace, since, clean)

    assert workspace.kill_when(process, ready), "the run finished before it could be killed"


@pytest.mark.parametrize("point", KILL_POINTS, ids=[p.name for p in KILL_POINTS])
def test_a_run_killed_and_run_again_ends_exactly_like_one_clean_run(
    tmp_path: Path, clean: dict[str, Any], point: KillPoint
) -> None:
    workspace = _workspace(tmp_path / "ws")

    _kill_at(workspace, point, clean)
    point.interrupted(workspace, clean)
    workspace.run()

    assert workspace.run_statuses() == [point.status, "succeeded"]
    _assert_same_as_clean(workspace, clean)


# --- several kills in a row ---------------------------------------------------------------------


def test_a_run_killed_again_and_again_at_different_moments_loses_and_repeats_nothing(
    tmp_path: Path, clean: dict[str, Any]
) -> None:
    workspace = _workspace(tmp_path / "ws")
    killed = 0

    for delay in (0.3, 0.8, 1.5, 2.2, 2.9):
        process = workspace.spawn("run", workspace.config)
        deadline = time.monotonic() + delay
        killed += workspace.kill_when(process, lambda t=deadline: time.monotonic() > t)
    workspace.run()

    statuses = workspace.run_statuses()
    assert killed >= 3
    assert statuses.count("crashed") >= 1
    assert statuses[-1] == "succeeded"
    assert set(statuses) <= {"crashed", "succeeded"}
    _assert_same_as_clean(workspace, clean)


# --- a kill between commit and delivery ---------------------------------------------------------


def test_a_run_killed_after_its_commit_but_before_delivery_leaves_the_backlog_to_the_next_run(
    tmp_path: Path, clean: dict[str, Any]
) -> None:
    workspace = _workspace(tmp_path / "ws")
    reached, release = tmp_path / "reached", tmp_path / "release"
    gate = {"reached": str(reached), "release": str(release)}
    workspace.write_config(
        batch_size=BATCH_SIZE,
        sinks=[
            {"type": f"{DOUBLES}:GateSink", "config": gate},
            {"type": "duckdb"},
            {"type": "jsonl", "config": {"path": str(workspace.jsonl)}},
        ],
    )

    process = workspace.spawn("run", workspace.config)
    assert workspace.kill_when(process, reached.exists)

    # everything is committed, nothing is delivered yet
    assert _committed_tables(workspace) == TABLES
    assert not workspace.jsonl.exists()
    assert workspace.query('SELECT coalesce(max("offset"), 0) FROM deliveries')[0][0] == 0

    release.touch()
    done = workspace.run()

    assert f"sink jsonl: {ENTITIES} delivered" in done.stdout
    assert f"sink duckdb: {ENTITIES} delivered" in done.stdout
    # the killed run had committed everything, but its delivery never ended: it crashed
    assert workspace.run_statuses() == ["crashed", "succeeded"]
    assert workspace.query("SELECT created, unchanged FROM runs WHERE run_id = 2") == [
        (0, ENTITIES)
    ]
    _assert_same_as_clean(workspace, clean)


# --- a kill while a webhook receiver is slow to answer ------------------------------------------

HOOK_TABLES = 40
HOOK_SECRET = "crash-safety-hook-secret-5c2e8f1a"


def _hook_workspace(root: Path, receiver: Receiver, batch_size: int) -> Workspace:
    """A small workflow whose only sink is a webhook to `receiver`, `batch_size` per request."""
    root.mkdir()
    workspace = Workspace(root, {**syncer_env(), "HOOK_SECRET": HOOK_SECRET})
    workspace.write_source(catalog(HOOK_TABLES, schemas=1))
    hook = {"url": receiver.url, "secret": "${env:HOOK_SECRET}", "batch_size": batch_size}
    workspace.write_config(sinks=[{"type": "webhook", "name": "hook", "config": hook}])
    return workspace


def _kill_while_delivering(workspace: Workspace, receiver: Receiver) -> None:
    """Run, SIGKILL once the receiver has taken a few requests, then run again to the end."""
    receiver.default = Reply(delay=0.05)
    process = workspace.spawn("run", workspace.config)
    assert workspace.kill_when(process, lambda: len(receiver.accepted()) >= 5)
    receiver.default = Reply()
    workspace.run()


def test_a_run_killed_while_its_sinks_drain_is_marked_crashed_by_the_next(tmp_path: Path) -> None:
    with Receiver() as receiver:
        workspace = _hook_workspace(tmp_path / "ws", receiver, batch_size=1)
        receiver.default = Reply(delay=0.05)
        process = workspace.spawn("run", workspace.config)
        assert workspace.kill_when(process, lambda: len(receiver.accepted()) >= 5)

        # everything was committed, and the run is still delivering: it has not succeeded
        assert workspace.run_statuses() == ["running"]
        receiver.default = Reply()
        workspace.run()

    assert workspace.run_statuses() == ["crashed", "succeeded"]


@pytest.mark.parametrize("batch_size", [1, 4])
def test_a_kill_during_webhook_delivery_sends_at_most_the_request_in_flight_again(
    tmp_path: Path, batch_size: int
) -> None:
    with Receiver() as receiver:
        workspace = _hook_workspace(tmp_path / "ws", receiver, batch_size)
        _kill_while_delivering(workspace, receiver)
        sent = Counter(event["id"] for event in receiver.events())

    # every event arrived; the ones that came twice are one request's worth at most
    seqs = workspace.query("SELECT seq FROM changes")
    assert set(sent) == {event_id(workspace.workflow, seq) for (seq,) in seqs}
    assert len(sent) == HOOK_TABLES + 3
    assert sum(count - 1 for count in sent.values()) <= batch_size
