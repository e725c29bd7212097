"""What every benchmark case shares: running `syncer run` as a child, reading what it committed,
measuring the floor beside it, and the case's runs in order on one state file."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = "bench"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    tables: int  # objects the source yields (tables and views): the tables/s denominator
    changed_percent: float = 0
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Measurement:
    scenario: Scenario
    exit_code: int
    wall: float
    peak_rss: int  # bytes
    state_added: int  # bytes
    committed: int  # change rows the run committed
    delivered: int  # changes the sink acknowledged during the run
    counters: dict[str, int]

    @property
    def rate(self) -> float:
        return self.scenario.tables / self.wall if self.wall else 0.0


@dataclass(frozen=True, slots=True)
class FloorSpec:
    """A `python -c` program that reads the catalog alone, and its argument."""

    program: str
    argument: str


@dataclass(frozen=True, slots=True)
class Floor:
    """The floor measured `len(walls)` times: its median is the figure compared against."""

    walls: tuple[float, ...]
    peak_rss: int
    exit_code: int

    @property
    def seconds(self) -> float:
        return statistics.median(self.walls)


@dataclass(frozen=True, slots=True)
class Step:
    scenario: Scenario
    before: Callable[[], object] | None = None  # changes the source before the run
    source: dict[str, Any] | None = None  # another source config for this run (same state)


def three_runs(objects: int, changed: Step) -> list[Step]:
    """What every case measures: a first run, a re-run with nothing changed, then `changed`
    (a re-run after 1% of the source changed)."""
    return [
        Step(Scenario("first run", objects)),
        Step(Scenario("no-change re-run", objects)),
        changed,
    ]


@dataclass
class Case:
    """One source, run in order on one fresh state file, the floor measured before each run
    that follows a change (and before the first)."""

    name: str
    detail: str
    source: dict[str, Any]
    floor: FloorSpec
    steps: list[Step]
    cleanup: Callable[[], object] | None = None
    state: dict[str, Any] = field(default_factory=dict)  # extra `state:` settings


@dataclass(frozen=True, slots=True)
class Row:
    case: str
    measurement: Measurement
    floor: Floor


# Env var the OpenMetadata case's workflows name for their token (a file may not hold one).
TOKEN_ENV = "SYNCER_BENCH_OM_TOKEN"
TOKEN = "bench-token"

# Runs the measured command and reports (exit code, wall s, peak RSS bytes) as JSON. It is a
# small process of its own because a child's peak RSS (wait4's ru_maxrss) includes the memory
# of the process it was spawned from, up to its exec: this benchmark's own (its imports, the
# OpenMetadata stand-in) would otherwise show as the floor of every figure.
_LAUNCHER = """
import json, os, subprocess, sys, time
log, *command = sys.argv[1:]
with open(log, "wb") as out:
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
print(json.dumps([os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss * 1024]))
"""


def child_env() -> dict[str, str]:
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    pythonpath = os.pathsep.join(p for p in paths if p)
    return {**os.environ, "PYTHONPATH": pythonpath, TOKEN_ENV: TOKEN}


def run_child(command: list[str], log: Path) -> tuple[int, float, int]:
    """Run a command to completion: exit code, wall seconds, peak RSS in bytes (from wait4,
    exact, taken by a small launcher process: see `_LAUNCHER`)."""
    launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(log), *command]
    done = subprocess.run(launcher, cwd=REPO, env=child_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the benchmark's launcher failed: {done.stderr}")
    code, wall, rss = json.loads(done.stdout)
    return int(code), float(wall), int(rss)


def syncer_command(config: Path, profile: Path | None = None) -> list[str]:
    """`syncer run CONFIG`, under cProfile if asked (it runs the console script as a file)."""
    script = Path(sys.executable).with_name("syncer")
    if profile is not None:
        profiler = [sys.executable, "-m", "cProfile", "-o", str(profile)]
        return [*profiler, str(script), "run", str(config)]
    if script.exists():
        return [str(script), "run", str(config)]
    return [sys.executable, "-c", "from syncer.cli import main; main()", "run", str(config)]


def state_size(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


def run_facts(state_path: Path) -> tuple[int, int, dict[str, int]]:
    """The last run's committed change rows, the sink's offset, and the run's counters."""
    names = ("scanned", "created", "updated", "unchanged", "deleted")
    if not state_path.exists():
        return 0, 0, {}
    con = duckdb.connect(str(state_path), read_only=True)
    try:
        row = con.execute(
            f"SELECT run_id, {', '.join(names)} FROM runs WHERE workflow = ? "
            "ORDER BY run_id DESC LIMIT 1",
            [WORKFLOW],
        ).fetchone()
        run_id, *counts = row or (0, *(0 for _ in names))
        committed = _scalar(con, "SELECT count(*) FROM changes WHERE run_id = ?", [run_id])
        offset = _scalar(
            con,
            'SELECT coalesce(max("offset"), 0) FROM deliveries WHERE workflow = ?',
            [WORKFLOW],
        )
    finally:
        con.close()
    return committed, offset, dict(zip(names, (int(c or 0) for c in counts), strict=True))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")


def measure_run(
    scenario: Scenario,
    workflow: dict[str, Any],
    work: Path,
    profile: Path | None = None,
) -> Measurement:
    """One `syncer run` of `workflow` (its state file shared with the runs before it)."""
    state_path = Path(workflow["state"]["path"])
    config = work / f"{slug(scenario.name)}.yaml"
    config.write_text(yaml.safe_dump(workflow, sort_keys=False))
    before_size = state_size(state_path)
    before_offset = run_facts(state_path)[1]
    log = work / f"{slug(scenario.name)}.log"
    code, wall, rss = run_child(syncer_command(config, profile), log)
    if code != 0:
        sys.stderr.write(f"{scenario.name}: syncer exited {code}:\n{log.read_text()[-4000:]}\n")
    committed, offset, counters = run_facts(state_path)
    added = state_size(state_path) - before_size
    return Measurement(
        scenario, code, wall, rss, added, committed, offset - before_offset, counters
    )


def measure_floor(spec: FloorSpec, work: Path, repeats: int = 3) -> Floor:
    """Run the floor program `repeats` times (interpreter start included)."""
    walls: list[float] = []
    peak, worst = 0, 0
    for _ in range(repeats):
        code, wall, rss = run_child(
            [sys.executable, "-c", spec.program, spec.argument], work / "floor.log"
        )
        if code != 0:
            sys.stderr.write(f"floor exited {code}:\n{(work / 'floor.log').read_text()[-4000:]}\n")
            worst = code
        walls.append(wall)
        peak = max(peak, rss)
    return Floor(tuple(walls), peak, worst)


def workflow_for(case: Case, source: dict[str, Any], state_path: Path) -> dict[str, Any]:
    return {
        "workflow": WORKFLOW,
        "source": source,
        "sinks": [{"type": "duckdb"}],
        "state": {"path": str(state_path), **case.state},
    }


def run_case(case: Case, work: Path, repeats: int = 3, profiles: Path | None = None) -> list[Row]:
    """The case's runs in order on one fresh state file, each beside its floor."""
    folder = work / slug(case.name)
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / "state.duckdb"
    rows: list[Row] = []
    floor: Floor | None = None
    try:
        for step in case.steps:
            if step.before is not None:
                step.before()
                floor = None
            if floor is None:
                sys.stderr.write(f"{case.name}: measuring the floor\n")
                floor = measure_floor(case.floor, folder, repeats)
            sys.stderr.write(f"{case.name}: {step.scenario.name}\n")
            workflow = workflow_for(case, step.source or case.source, state_path)
            name = f"{slug(case.name)}-{slug(step.scenario.name)}.prof"
            profile = profiles / name if profiles is not None else None
            measurement = measure_run(step.scenario, workflow, folder, profile)
            rows.append(Row(case.name, measurement, floor))
    finally:
        if case.cleanup is not None:
            case.cleanup()
    return rows
