"""The fleet view in the benchmark: `syncer fleet status` and fleet SQL over simulated fleets.

One real state file is made by real runs (the synthetic source, N tables x 10 columns, into
the embedded catalog: a first run, a no-change re-run and a 1% changed re-run), then copied
into fleets of 100 and 1,000 files (quick: 10 and 100), each copy's workflow renamed, in
folders two deep as a deployment would lay them out. Each command is a `syncer` child,
measured like every other run of the benchmark: wall seconds and peak RSS.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from bench.harness import WORKFLOW, run_child
from bench.synthetic import SOURCE_TYPE

MB = 2**20
TABLES, QUICK_TABLES = 500, 50  # per state file: one database's catalog
FLEETS, QUICK_FLEETS = (100, 1_000), (10, 100)
QUERIES = {
    "fleet sql: last run of each workflow": (
        "SELECT state_file, workflow, status, ended_at FROM run_summary "
        "QUALIFY row_number() OVER (PARTITION BY state_file, workflow ORDER BY run_id DESC) = 1"
    ),
    "fleet sql: changes by kind": (
        "SELECT kind, count(*) AS changes, count(DISTINCT state_file) AS files "
        "FROM change_log GROUP BY kind ORDER BY kind"
    ),
}


@dataclass(frozen=True, slots=True)
class FleetRow:
    files: int
    fleet_bytes: int
    command: str
    exit_code: int
    wall: float
    peak_rss: int  # bytes


def syncer(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("syncer")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from syncer.cli import main; main()", *args]


def template(work: Path, tables: int) -> Path:
    """A state file made by three real runs of the synthetic source."""
    folder = work / "template"
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / "state.duckdb"
    for generation in (0, 0, 1):
        workflow = {
            "workflow": WORKFLOW,
            "source": {
                "type": SOURCE_TYPE,
                "config": {"tables": tables, "changed_percent": 1, "generation": generation},
            },
            "sinks": [{"type": "duckdb"}],
            "state": {"path": str(state)},
        }
        config = folder / "workflow.yaml"
        config.write_text(yaml.safe_dump(workflow, sort_keys=False))
        code, _, _ = run_child(syncer("run", "--quiet", str(config)), folder / "run.log")
        if code != 0:
            raise RuntimeError(
                f"the fleet's template run failed:\n{(folder / 'run.log').read_text()}"
            )
    return state


def populate(source: Path, folder: Path, count: int) -> int:
    """`count` copies of `source` under `folder`/team-NN/wf-NNNN/, each holding a workflow of
    its own name; their size in bytes."""
    size = 0
    for i in range(count):
        target = folder / f"team-{i % 20:02d}" / f"wf-{i:04d}" / "state.duckdb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        rename_workflow(target, f"wf-{i:04d}")
        size += target.stat().st_size
    return size


def rename_workflow(path: Path, name: str) -> None:
    """Every row of the state's own tables (not the embedded catalog's) now names `name`."""
    con = duckdb.connect(str(path))
    try:
        tables = con.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND column_name = 'workflow' AND table_name IN "
            "(SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')"
        ).fetchall()
        for (table,) in tables:
            con.execute(f"UPDATE {table} SET workflow = ?", [name])
    finally:
        con.close()


def measure(files: int, fleet_bytes: int, pattern: str, work: Path) -> list[FleetRow]:
    commands = {
        "fleet status": syncer("fleet", "status", "--states", pattern, "--format", "csv"),
        **{
            label: syncer("fleet", "sql", query, "--states", pattern, "--format", "csv")
            for label, query in QUERIES.items()
        },
    }
    rows = []
    for label, command in commands.items():
        sys.stderr.write(f"fleet of {files:,}: {label}\n")
        log = work / "fleet.log"
        code, wall, rss = run_child(command, log)
        if code != 0:
            sys.stderr.write(f"{label}: exited {code}:\n{log.read_text()[-4000:]}\n")
        rows.append(FleetRow(files, fleet_bytes, label, code, wall, rss))
    return rows


def run(work: Path, quick: bool) -> list[FleetRow]:
    """Make the template and the fleets, and time each command over each fleet."""
    sys.stderr.write("fleet: the template state file (three real runs)\n")
    source = template(work / "fleet", QUICK_TABLES if quick else TABLES)
    rows: list[FleetRow] = []
    for files in QUICK_FLEETS if quick else FLEETS:
        sys.stderr.write(f"fleet: making {files:,} state files\n")
        folder = work / "fleet" / f"fleet-{files}"
        size = populate(source, folder, files)
        rows += measure(files, size, f"{folder}/**/*.duckdb", work)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def report(rows: Sequence[FleetRow], quick: bool) -> list[str]:
    tables = QUICK_TABLES if quick else TABLES
    lines = [
        f"## Fleet view (state files of {tables:,} tables x 10 columns, three runs each)",
        "",
        "| state files | fleet size | command | wall s | peak RSS MB | x the smallest fleet's |",
        "| ---: | ---: | --- | ---: | ---: | --- |",
    ]
    smallest = {r.command: r for r in rows if r.files == min(x.files for x in rows)}
    for r in rows:
        base = smallest[r.command]
        status = "" if r.exit_code == 0 else f" (exit {r.exit_code})"
        growth = (
            f"{r.wall / base.wall:.1f} x time, {r.peak_rss / base.peak_rss:.1f} x memory"
            if r is not base and base.wall and base.peak_rss
            else ""
        )
        lines.append(
            f"| {r.files:,} | {r.fleet_bytes / MB:,.0f} MiB | {r.command}{status} | "
            f"{r.wall:.2f} | {r.peak_rss / MB:,.0f} | {growth} |"
        )
    return [*lines, ""]
