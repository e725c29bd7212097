"""The benchmark behind `make bench`: `syncer run` on a synthetic catalog, scenario by scenario.

    python -m bench.run [--tables N] [--columns 10] [--out DIR] [--profile]

Each scenario is a separate `syncer run` subprocess on a workflow YAML written to a temp dir,
with the embedded DuckDB catalog as its only sink. The first three share one fresh state file:
(1) a first run, (2) a re-run with nothing changed, (3) a re-run with 1% of the tables changed.
(4) is a first run of N/10 tables on a fresh state file, to show whether peak RSS grows with N.

Measured per scenario: wall seconds of the subprocess (interpreter start included), tables per
second, changes committed by the run and delivered to the sink (from the state file), the
child's peak RSS (from `wait4`, exact), and the bytes the run added to the state file and its
WAL. The Markdown table is printed and written to DIR/latest.md. Targets are documented in
bench/README.md, not asserted: a benchmark reports, it does not fail a build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

REPO = Path(__file__).resolve().parent.parent
SOURCE = "bench.synthetic:SyntheticSource"
WORKFLOW = "bench"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    tables: int
    state: str  # name of the state file (scenarios sharing one run in order)
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


def scenarios(tables: int) -> list[Scenario]:
    small = max(1, tables // 10)
    return [
        Scenario("first run", tables, "main"),
        Scenario("no-change re-run", tables, "main"),
        Scenario("1% changed re-run", tables, "main", changed_percent=1, generation=1),
        Scenario("first run, N/10", small, "small"),
    ]


def workflow_yaml(scenario: Scenario, columns: int, state_path: Path) -> dict[str, Any]:
    return {
        "workflow": WORKFLOW,
        "source": {
            "type": SOURCE,
            "config": {
                "tables": scenario.tables,
                "columns": columns,
                "changed_percent": scenario.changed_percent,
                "generation": scenario.generation,
            },
        },
        "sinks": [{"type": "duckdb"}],
        "state": {"path": str(state_path)},
    }


def syncer_command(config: Path, profile: Path | None) -> list[str]:
    """`syncer run CONFIG`, under cProfile if asked (it runs the console script as a file)."""
    script = Path(sys.executable).with_name("syncer")
    if profile is not None:
        return [
            sys.executable,
            "-m",
            "cProfile",
            "-o",
            str(profile),
            str(script),
            "run",
            str(config),
        ]
    if script.exists():
        return [str(script), "run", str(config)]
    return [sys.executable, "-c", "from syncer.cli import main; main()", "run", str(config)]


def state_size(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


def run_child(command: list[str], log: Path) -> tuple[int, float, int]:
    """Run a command to completion: exit code, wall seconds, peak RSS in bytes (from wait4)."""
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    with log.open("wb") as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return child.returncode, wall, usage.ru_maxrss * 1024  # Linux reports KiB


def run_facts(state_path: Path) -> tuple[int, int, dict[str, int]]:
    """The last run's committed change rows, the sink's offset, and the run's counters."""
    names = ("scanned", "created", "updated", "unchanged", "deleted")
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
    return committed, offset, dict(zip(names, (int(c) for c in counts), strict=True))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def measure(scenario: Scenario, columns: int, work: Path, profiles: Path | None) -> Measurement:
    state_path = work / scenario.state / "state.duckdb"
    config = work / f"{scenario.state}-{scenario.generation}-{scenario.tables}.yaml"
    config.write_text(yaml.safe_dump(workflow_yaml(scenario, columns, state_path), sort_keys=False))
    before_size = state_size(state_path)
    before_offset = run_facts(state_path)[1] if state_path.exists() else 0
    slug = "".join(ch if ch.isalnum() else "_" for ch in scenario.name).strip("_")
    profile = profiles / f"{slug}.prof" if profiles is not None else None
    log = work / f"{slug}.log"
    code, wall, rss = run_child(syncer_command(config, profile), log)
    if code != 0:
        sys.stderr.write(f"{scenario.name}: syncer exited {code}:\n{log.read_text()}\n")
    added = state_size(state_path) - before_size
    committed, offset, counters = run_facts(state_path) if state_path.exists() else (0, 0, {})
    return Measurement(
        scenario, code, wall, rss, added, committed, offset - before_offset, counters
    )


def markdown(results: list[Measurement], columns: int) -> str:
    lines = [
        f"N = {results[0].scenario.tables:,} tables x {columns} columns, "
        f"sink: embedded DuckDB catalog, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"DuckDB {duckdb.__version__}",
        "",
        "| scenario | tables | wall s | tables/s | created / updated / unchanged | "
        "sink writes | peak RSS MB | state bytes added |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in results:
        c = m.counters
        status = "" if m.exit_code == 0 else f" (exit {m.exit_code})"
        lines.append(
            f"| {m.scenario.name}{status} | {m.scenario.tables:,} | {m.wall:.1f} | "
            f"{m.rate:,.0f} | {c.get('created', 0):,} / {c.get('updated', 0):,} / "
            f"{c.get('unchanged', 0):,} | {m.delivered:,} | {m.peak_rss / 2**20:,.0f} | "
            f"{_bytes(m.state_added)} |"
        )
    return "\n".join(lines) + "\n"


def _bytes(n: int) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 2**10:
        return f"{sign}{n} B"
    if n < 2**20:
        return f"{sign}{n / 2**10:.1f} KiB"
    return f"{sign}{n / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--columns", type=int, default=10, help="columns per table (default 10)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument(
        "--profile", action="store_true", help="also write a cProfile file per scenario to OUT"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (state files, logs)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="syncer-bench-"))
    results: list[Measurement] = []
    try:
        for scenario in scenarios(args.tables):
            sys.stderr.write(f"running: {scenario.name} ({scenario.tables:,} tables)\n")
            profiles = args.out if args.profile else None
            results.append(measure(scenario, args.columns, work, profiles))
    finally:
        if args.keep:
            sys.stderr.write(f"kept {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table = markdown(results, args.columns)
    (args.out / "latest.md").write_text(table)
    sys.stdout.write(table)
    return 0 if all(m.exit_code == 0 for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
