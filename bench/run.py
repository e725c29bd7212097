"""The benchmark behind `make bench`: each case's syncer runs beside the floor, and the targets.

    python -m bench.run [--quick] [--cases synthetic,sqlite,postgres,openmetadata] [--out DIR]

Cases (bench/README.md): the synthetic source (N tables, and N/10 to see memory against N),
real SQLite files (20,000 and 60,000 tables), a generated PostgreSQL database (10,000 tables),
and the OpenMetadata sink against the local stand-in (2,000 tables, bulk on and off). Each
case is a first run, a no-change re-run and a 1% changed re-run on one fresh state file, each
a `syncer run` subprocess; the floor (the catalog read alone, bench/floor.py) is measured in the
same run, before the first run and again after the change. The Markdown report is printed and
written to DIR/latest.md. Targets are reported as met or missed, never asserted.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench import fleet, openmetadata, postgres, sqlite, timetravel
from bench.floor import synthetic_floor_spec
from bench.harness import REPO, Case, Row, Scenario, Step, run_case, three_runs
from bench.synthetic import SOURCE_TYPE

ALL_CASES = ("synthetic", "sqlite", "postgres", "openmetadata", "timetravel", "fleet")
MB = 2**20


@dataclass(frozen=True, slots=True)
class Sizes:
    synthetic: int
    sqlite: tuple[int, ...]
    postgres: int
    openmetadata: int


FULL = Sizes(synthetic=100_000, sqlite=(20_000, 60_000), postgres=10_000, openmetadata=2_000)
QUICK = Sizes(synthetic=2_000, sqlite=(1_000, 3_000), postgres=500, openmetadata=100)


def synthetic_case(tables: int, columns: int, label: str) -> Case:
    """The synthetic source: first run, no change, 1% changed (generation 1)."""

    def source(generation: int) -> dict[str, object]:
        config = {"tables": tables, "columns": columns, "changed_percent": 1}
        return {"type": SOURCE_TYPE, "config": {**config, "generation": generation}}

    changed = Scenario("1% changed re-run", tables, changed_percent=1, generation=1)
    return Case(
        name=label,
        detail=f"{tables:,} tables x {columns} columns, generated inside syncer",
        source=source(0),
        floor=synthetic_floor_spec({"tables": tables, "columns": columns}),
        steps=three_runs(tables, Step(changed, source=source(1))),
    )


# --- targets (issue 13) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    case: str
    target: str
    figure: str
    met: bool


def time_limit(row: Row) -> tuple[str, float] | None:
    """The issue's wall-time target for this row, as (text, seconds), if it has one."""
    floor, name = row.floor.seconds, row.measurement.scenario.name
    real = not row.case.startswith("synthetic")
    if name == "no-change re-run" and real:
        return "≤ 1.5 x floor + 0.3 s", 1.5 * floor + 0.3
    if name == "1% changed re-run" and real:
        return "≤ 1.7 x floor + 0.3 s", 1.7 * floor + 0.3
    if name == "first run" and row.case.startswith("PostgreSQL"):
        return "≤ 3 x floor", 3 * floor
    return None


def checks(rows: list[Row]) -> list[Check]:
    found: list[Check] = []
    for row in rows:
        m = row.measurement
        limit = time_limit(row)
        if limit is not None:
            text, seconds = limit
            figure = f"{m.wall:.2f} s vs {seconds:.2f} s"
            found.append(Check(row.case, f"{m.scenario.name} {text}", figure, m.wall <= seconds))
        if row.case == "synthetic" and m.scenario.name == "first run":
            found.append(
                Check(row.case, "first run ≥ 10,000 tables/s", f"{m.rate:,.0f}", m.rate >= 10_000)
            )
        if m.scenario.name == "no-change re-run":
            rss = m.peak_rss / MB
            found.append(
                Check(row.case, "no-change peak RSS ≤ 300 MB", f"{rss:,.0f} MB", rss <= 300)
            )
    found.extend(flat_checks(rows))
    return found


def flat_checks(rows: list[Row]) -> Iterator[Check]:
    """No-change peak RSS flat in N: what syncer holds beyond the floor's own peak (on SQLite,
    the driver's parsed schema: 250 MB at 60,000 tables, whoever reads it) at the larger N
    within 10% (+20 MB) of the smaller N's."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        if row.measurement.scenario.name == "no-change re-run":
            groups.setdefault(row.case.split()[0], []).append(row)
    for family, members in groups.items():
        if len(members) < 2:
            continue
        small, large = min(members, key=_n), max(members, key=_n)
        a, b = _above_floor(small), _above_floor(large)
        yield Check(
            family,
            "no-change peak RSS above the floor's, flat in N (≤ 1.1 x smaller N's + 20 MB)",
            f"{b:,.0f} MB at {_n(large):,} vs {a:,.0f} MB at {_n(small):,}",
            b <= 1.1 * a + 20,
        )


def _above_floor(row: Row) -> float:
    return (row.measurement.peak_rss - row.floor.peak_rss) / MB


def sink_checks(rows: list[openmetadata.SinkRow]) -> Iterator[Check]:
    for r in rows:
        if r.measurement.scenario.name == "no-change re-run":
            case = f"OpenMetadata, bulk {'on' if r.bulk else 'off'}"
            yield Check(case, "no-change re-run sends 0 requests", f"{r.requests}", r.requests == 0)


def _n(row: Row) -> int:
    return row.measurement.scenario.tables


# --- report -----------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def runs_table(rows: list[Row]) -> list[str]:
    lines = [
        "| case | scenario | objects | wall s | tables/s | floor s | x floor | target | "
        "created / updated / unchanged | sink writes | peak RSS MB | state added |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        m, floor = row.measurement, row.floor.seconds
        c = m.counters
        status = "" if m.exit_code == 0 else f" (exit {m.exit_code})"
        limit = time_limit(row)
        target = f"{limit[0]}: {verdict(m.wall <= limit[1])}" if limit else ""
        lines.append(
            f"| {row.case} | {m.scenario.name}{status} | {m.scenario.tables:,} | {m.wall:.2f} | "
            f"{m.rate:,.0f} | {floor:.2f} | {m.wall / floor:.1f} | {target} | "
            f"{c.get('created', 0):,} / {c.get('updated', 0):,} / {c.get('unchanged', 0):,} | "
            f"{m.delivered:,} | {m.peak_rss / MB:,.0f} | {_bytes(m.state_added)} |"
        )
    return lines


def floors_table(rows: list[Row]) -> list[str]:
    lines = ["| case | floor runs s | floor peak RSS MB |", "| --- | --- | ---: |"]
    seen: set[tuple[str, tuple[float, ...]]] = set()
    for row in rows:
        key = (row.case, row.floor.walls)
        if key in seen:
            continue
        seen.add(key)
        walls = ", ".join(f"{w:.2f}" for w in row.floor.walls)
        failed = "" if row.floor.exit_code == 0 else f" (exit {row.floor.exit_code})"
        lines.append(f"| {row.case} | {walls}{failed} | {row.floor.peak_rss / MB:,.0f} |")
    return lines


def checks_table(found: list[Check]) -> list[str]:
    lines = ["| case | target | figure | |", "| --- | --- | --- | --- |"]
    lines += [f"| {c.case} | {c.target} | {c.figure} | {verdict(c.met)} |" for c in found]
    return lines


def sink_table(rows: list[openmetadata.SinkRow]) -> list[str]:
    lines = [
        "| bulk | scenario | tables | wall s | requests | of which writes | "
        "created / updated / unchanged | peak RSS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        m, c = r.measurement, r.measurement.counters
        status = "" if m.exit_code == 0 else f" (exit {m.exit_code})"
        lines.append(
            f"| {'on' if r.bulk else 'off'} | {m.scenario.name}{status} | {m.scenario.tables:,} | "
            f"{m.wall:.2f} | {r.requests:,} | {r.writes:,} | {c.get('created', 0):,} / "
            f"{c.get('updated', 0):,} / {c.get('unchanged', 0):,} | {m.peak_rss / MB:,.0f} |"
        )
    return lines


def report(
    rows: list[Row], sink_rows: list[openmetadata.SinkRow], details: list[str], repeats: int
) -> str:
    parts = [
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end, "
        f"Python {sys.version.split()[0]}, DuckDB {duckdb.__version__}; sink: embedded DuckDB "
        f"catalog. Floor: the catalog read alone in a `python -c` child (median of {repeats}).",
        "",
        *(f"- {d}" for d in details),
        "",
    ]
    found = checks(rows) + list(sink_checks(sink_rows))
    if rows:
        parts += ["## Runs beside the floor", "", *runs_table(rows), ""]
    if found:
        parts += ["## Targets (issue 13)", "", *checks_table(found), ""]
    if rows:
        parts += ["## Floors", "", *floors_table(rows), ""]
    if sink_rows:
        tables = sink_rows[0].measurement.scenario.tables
        parts += [
            f"## OpenMetadata sink (synthetic source, {tables:,} tables, local stand-in, "
            "schema checks off)",
            "",
            *sink_table(sink_rows),
            "",
        ]
    return "\n".join(parts)


def _bytes(n: int) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < 2**10:
        return f"{sign}{n} B"
    if n < 2**20:
        return f"{sign}{n / 2**10:.1f} KiB"
    return f"{sign}{n / 2**20:.1f} MiB"


# --- main -------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N: checks the harness")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help="comma-separated")
    parser.add_argument("--tables", type=int, help="synthetic N (default 100,000)")
    parser.add_argument("--columns", type=int, default=10, help="synthetic columns per table")
    parser.add_argument("--repeats", type=int, help="floor runs per measurement (3; quick: 1)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--cache", type=Path, help="built SQLite files (default OUT/cache)")
    parser.add_argument("--profile", action="store_true", help="cProfile file per run, in OUT")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (state, logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    if args.tables:
        sizes = Sizes(args.tables, sizes.sqlite, sizes.postgres, sizes.openmetadata)
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    args.out.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="syncer-bench-"))
    profiles = args.out if args.profile else None
    rows: list[Row] = []
    sink_rows: list[openmetadata.SinkRow] = []
    details: list[str] = []
    travel: list[str] = []
    fleet_lines: list[str] = []
    codes: list[int] = []
    try:
        for label, make in planned_cases(wanted, sizes, args, work):
            with ExitStack() as stack:
                case = make(stack)
                if case is None:
                    details.append(f"{label}: skipped (no PostgreSQL on 127.0.0.1:5432)")
                    continue
                details.append(f"{case.name}: {case.detail}")
                rows += run_case(case, work, repeats, profiles)
        if "openmetadata" in wanted:
            sink_rows = openmetadata.run(work, sizes.openmetadata, args.columns)
        if "timetravel" in wanted:  # the synthetic case's N, with a history of five runs
            built, timings = timetravel.run(work, sizes.synthetic, args.columns)
            travel = timetravel.report(sizes.synthetic, built, timings)
            codes += [m.exit_code for m in built]
        if "fleet" in wanted:  # copies of one real state file (bench/fleet.py)
            fleet_rows = fleet.run(work, quick=args.quick)
            fleet_lines = fleet.report(fleet_rows, quick=args.quick)
            codes += [r.exit_code for r in fleet_rows]
    finally:
        if args.keep:
            sys.stderr.write(f"kept {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = "\n".join([report(rows, sink_rows, details, repeats), *travel, *fleet_lines])
    (args.out / "latest.md").write_text(text)
    sys.stdout.write(text)
    codes += [r.measurement.exit_code for r in rows] + [r.measurement.exit_code for r in sink_rows]
    return 0 if not any(codes) else 1


def compile_bytecode() -> None:
    """syncer's modules compiled to bytecode, as installing a package leaves them: a checkout
    run with PYTHONDONTWRITEBYTECODE set compiles them from source in every run (0.05-0.1 s),
    where the floor's driver, installed, does not."""
    for package in ("syncer", "connectors", "state"):
        compileall.compile_dir(REPO / package, quiet=1)


Maker = Callable[[ExitStack], Case | None]


def planned_cases(
    wanted: set[str], sizes: Sizes, args: argparse.Namespace, work: Path
) -> Iterator[tuple[str, Maker]]:
    """(label, a function making the case inside an exit stack that cleans up after it)."""
    n, columns = sizes.synthetic, args.columns
    if "synthetic" in wanted:
        yield "synthetic", lambda _: synthetic_case(n, columns, "synthetic")
        small = max(1, n // 10)
        yield "synthetic N/10", lambda _: synthetic_case(small, columns, "synthetic N/10")
    if "sqlite" in wanted:
        cache = args.cache or args.out / "cache"
        for tables in sizes.sqlite:
            yield "SQLite", _sqlite_maker(cache, work, tables)
    if "postgres" in wanted:
        yield "PostgreSQL", _postgres_maker(sizes.postgres)


def _sqlite_maker(cache: Path, work: Path, tables: int) -> Maker:
    return lambda _: sqlite.case(cache, work, tables, 10)


def _postgres_maker(tables: int) -> Maker:
    def make(stack: ExitStack) -> Case | None:
        if not postgres.available():
            return None
        name = stack.enter_context(postgres.database(tables))
        return postgres.case(name, tables)

    return make


if __name__ == "__main__":
    sys.exit(main())
