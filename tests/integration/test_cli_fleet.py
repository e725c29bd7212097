"""`syncer fleet status | sql | metrics` over state files made by real `syncer run`s: the same
workflow name in two files stays two rows, a file a run holds is busy (and never disturbed), a
damaged or foreign file is named and skipped while the others are still reported."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.workspace import DOUBLES, Workspace, catalog


def synced(root: Path, env: dict[str, str], tables: int, workflow: str = "shop") -> Workspace:
    root.mkdir(parents=True)
    ws = Workspace(root, env, workflow=workflow)
    ws.write_source(catalog(tables))
    ws.write_config()
    ws.run()
    return ws


@pytest.fixture
def fleet_dir(tmp_path: Path, subprocess_env: dict[str, str]) -> Path:
    """Two state files in two folders, each holding a workflow named `shop`."""
    synced(tmp_path / "fleet" / "eu", subprocess_env, 3)
    synced(tmp_path / "fleet" / "us" / "east", subprocess_env, 5)
    return tmp_path / "fleet"


def records(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_fleet_status_lists_the_same_workflow_name_in_two_files_as_two_rows(
    fleet_dir: Path, workspace: Workspace
) -> None:
    done = workspace.syncer(
        "fleet", "status", "--states", f"{fleet_dir}/**/*.duckdb", "--format", "csv"
    )

    assert done.returncode == 0, done.stderr
    rows = records(done.stdout)
    assert [(r["state_file"], r["workflow"], r["file"], r["status"]) for r in rows] == [
        (f"{fleet_dir}/eu/state.duckdb", "shop", "read", "succeeded"),
        (f"{fleet_dir}/us/east/state.duckdb", "shop", "read", "succeeded"),
    ]
    # a service, a database, four schemas and the tables
    assert [int(r["created"]) for r in rows] == [9, 11]
    assert all(r["backlog"] == "0" and r["dead_letters"] == "0" for r in rows)
    assert all(0 <= int(r["age_seconds"]) < 600 for r in rows)


def test_fleet_status_as_a_table_and_as_json(fleet_dir: Path, workspace: Workspace) -> None:
    pattern = f"{fleet_dir}/**/*.duckdb"

    table = workspace.syncer("fleet", "status", "--states", pattern)
    document = workspace.syncer("fleet", "status", "--states", pattern, "--format", "json")

    header = table.stdout.splitlines()[0].split()
    assert header[:6] == ["state", "file", "workflow", "file", "run", "status"]
    assert f"{fleet_dir}/eu/state.duckdb" in table.stdout
    rows = json.loads(document.stdout)
    assert [r["sinks"] for r in rows] == [
        [
            {"sink": "duckdb", "backlog": 0, "dead_letters": 0},
            {"sink": "jsonl", "backlog": 0, "dead_letters": 0},
        ]
    ] * 2


def test_a_damaged_and_a_foreign_file_are_named_and_skipped_and_the_exit_code_is_1(
    fleet_dir: Path, workspace: Workspace
) -> None:
    damaged = fleet_dir / "eu" / "state.duckdb"
    with damaged.open("r+b") as file:
        file.truncate(damaged.stat().st_size // 3)  # cut short, as by a full disk or a bad copy
    (fleet_dir / "notes.duckdb").write_text("not a database")

    done = workspace.syncer(
        "fleet", "status", "--states", f"{fleet_dir}/**/*.duckdb", "--format", "csv"
    )

    assert done.returncode == 1
    assert [r["state_file"] for r in records(done.stdout)] == [f"{fleet_dir}/us/east/state.duckdb"]
    problems = done.stderr.splitlines()
    assert len(problems) == 2
    assert problems[0].startswith(f"warning: unreadable, skipped: state file {damaged} is damaged")
    assert problems[1].startswith(f"warning: unreadable, skipped: {fleet_dir}/notes.duckdb is not")


def test_patterns_that_match_no_file_exit_2(workspace: Workspace, tmp_path: Path) -> None:
    done = workspace.syncer("fleet", "status", "--states", f"{tmp_path}/nowhere/**/*.duckdb")

    assert done.returncode == 2
    assert "matches no file" in done.stderr


@pytest.fixture
def held(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[tuple[Workspace, Any]]:
    """A workspace whose second run is held at its sink (holding the state file's lock) until
    the test ends; its first run went through and left a summary."""
    ws = Workspace(tmp_path / "held", subprocess_env, workflow="orders")
    ws.root.mkdir()
    reached, release = tmp_path / "reached", tmp_path / "release"
    gate = {"reached": str(reached), "release": str(release)}
    ws.write_source(catalog(4))
    ws.write_config(sinks=[{"type": f"{DOUBLES}:GateSink", "config": gate}])
    release.touch()
    ws.run()
    release.unlink()
    reached.unlink()
    ws.write_source(catalog(6))
    run = ws.spawn("run", ws.config)
    try:
        deadline = time.monotonic() + 60
        while not reached.exists():
            assert run.poll() is None, "the run ended before it held the state"
            assert time.monotonic() < deadline, "the run never reached its sink"
            time.sleep(0.01)
        yield ws, run
    finally:
        release.touch()
        run.wait(timeout=60)
    assert run.returncode == 0  # the fleet's readers did not disturb it
    assert ws.run_statuses() == ["succeeded", "succeeded"]


def test_a_file_a_run_holds_is_busy_shown_from_its_summary_and_the_run_goes_on(
    fleet_dir: Path, held: tuple[Workspace, Any]
) -> None:
    ws, run = held
    before = ws.state.read_bytes()

    done = ws.syncer(
        "fleet",
        "status",
        "--states",
        f"{fleet_dir}/**/*.duckdb",
        "--states",
        str(ws.state),
        "--format",
        "csv",
    )

    assert done.returncode == 0, done.stderr
    rows = {r["state_file"]: r for r in records(done.stdout)}
    busy = rows[str(ws.state)]
    assert (busy["workflow"], busy["file"], busy["status"], busy["run_id"]) == (
        "orders",
        "busy",
        "succeeded",
        "1",
    )  # the last finished run, from the summary
    assert busy["created"] == "10"
    assert [r["file"] for r in rows.values()] == ["read", "read", "busy"]
    assert ws.state.read_bytes() == before
    assert run.poll() is None


def test_fleet_sql_unions_the_views_with_state_file_and_skips_a_busy_file_with_a_warning(
    fleet_dir: Path, held: tuple[Workspace, Any]
) -> None:
    ws, run = held
    query = (
        "SELECT state_file, workflow, count(*) AS tables FROM current_entities "
        "WHERE entity_type = 'table' GROUP BY ALL ORDER BY ALL"
    )

    done = ws.syncer(
        "fleet",
        "sql",
        query,
        "--states",
        f"{fleet_dir}/**/*.duckdb",
        "--states",
        str(ws.state),
        "--format",
        "csv",
    )

    assert done.returncode == 0, done.stderr
    assert records(done.stdout) == [
        {"state_file": f"{fleet_dir}/eu/state.duckdb", "workflow": "shop", "tables": "3"},
        {"state_file": f"{fleet_dir}/us/east/state.duckdb", "workflow": "shop", "tables": "5"},
    ]
    expected = f"warning: skipped: state file {ws.state} is busy: a run holds it (PID {run.pid})"
    assert done.stderr.strip() == expected


def test_fleet_sql_only_reads(fleet_dir: Path, workspace: Workspace) -> None:
    pattern = f"{fleet_dir}/**/*.duckdb"
    before = (fleet_dir / "eu" / "state.duckdb").read_bytes()

    deleting = workspace.syncer("fleet", "sql", "DELETE FROM state_1.runs", "--states", pattern)
    copying = workspace.syncer(
        "fleet", "sql", f"COPY run_summary TO '{fleet_dir}/leak.csv'", "--states", pattern
    )

    assert deleting.returncode == copying.returncode == 2
    assert "query failed" in deleting.stderr and "query failed" in copying.stderr
    assert not (fleet_dir / "leak.csv").exists()
    assert (fleet_dir / "eu" / "state.duckdb").read_bytes() == before


def test_fleet_metrics_writes_one_series_per_workflow_and_state_file(
    fleet_dir: Path, workspace: Workspace
) -> None:
    textfile = workspace.root / "textfile" / "syncer_fleet.prom"

    done = workspace.syncer(
        "fleet", "metrics", "--textfile", textfile, "--states", f"{fleet_dir}/**/*.duckdb"
    )

    assert done.returncode == 0, done.stderr
    series = [
        s.labels
        for family in text_string_to_metric_families(textfile.read_text())
        for s in family.samples
        if s.name == "syncer_last_run_status" and s.labels["status"] == "succeeded"
    ]
    assert series == [
        {"workflow": "shop", "state_file": f"{fleet_dir}/eu/state.duckdb", "status": "succeeded"},
        {
            "workflow": "shop",
            "state_file": f"{fleet_dir}/us/east/state.duckdb",
            "status": "succeeded",
        },
    ]
    assert oct(textfile.stat().st_mode & 0o777) == "0o644"  # node-exporter runs as another user


def test_fleet_metrics_wants_a_prom_file(fleet_dir: Path, workspace: Workspace) -> None:
    done = workspace.syncer(
        "fleet", "metrics", "--textfile", "fleet.txt", "--states", f"{fleet_dir}/**/*.duckdb"
    )

    assert done.returncode == 2
    assert "must end in .prom" in done.stderr
