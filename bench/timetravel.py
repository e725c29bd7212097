"""Time travel on a large state: `entities_as_of`, `syncer show` and `syncer diff` timed.

The state is built by the real engine (`syncer run` subprocesses, as every case is) from the
synthetic source over five runs: N tables created; 1% changed; another 1% changed; 1% deleted
(the last tables left out); and those restored while another 1% changes. Then, on that file:

- the `entities_as_of` macro over the whole state, as of the first and the last run, payloads
  read (what `SELECT * FROM entities_as_of(R)` costs);
- the Python API a web view pages with: the first and a far page of `entities_as_of`, one
  entity's version as of a run, and every difference between the first and the last run,
  described field by field;
- `syncer show` and `syncer diff` as subprocesses, interpreter start included.

Seconds are reported, never asserted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from pydantic import Field

from bench.harness import WORKFLOW, Measurement, Scenario, child_env, measure_run
from bench.synthetic import SyntheticConfig, SyntheticSource
from syncer.models import Table
from syncer.steps import CursorValue

SOURCE_TYPE = "bench.timetravel:ShrinkingSource"


class ShrinkingConfig(SyntheticConfig):
    dropped: int = Field(default=0, ge=0)  # the last tables, left out of this run


class ShrinkingSource(SyntheticSource):
    """The synthetic source without its last `dropped` tables: a run that deletes them."""

    config_model = ShrinkingConfig
    config: ShrinkingConfig

    def _tables(self, since: CursorValue | None) -> Iterator[Table]:
        kept = self.config.tables - self.config.dropped
        for i, table in enumerate(super()._tables(since)):
            if i >= kept:
                return
            yield table


@dataclass(frozen=True, slots=True)
class Timing:
    what: str
    seconds: float
    rows: int


def runs(tables: int) -> list[tuple[Scenario, dict[str, Any]]]:
    """The five runs that give the state its history, each with its source config."""
    one_percent = max(1, tables // 100)
    steps = (
        ("first run", 0, 0),
        ("1% changed", 1, 0),
        ("another 1% changed", 2, 0),
        ("1% deleted", 2, one_percent),
        ("1% restored, 1% changed", 3, 0),
    )
    return [
        (
            Scenario(name, tables, changed_percent=1, generation=generation),
            {"tables": tables, "columns": 10, "changed_percent": 1, "generation": generation}
            | {"dropped": dropped},
        )
        for name, generation, dropped in steps
    ]


def build(work: Path, tables: int, columns: int) -> tuple[Path, list[Measurement]]:
    state = work / "state.duckdb"
    done: list[Measurement] = []
    for scenario, config in runs(tables):
        sys.stderr.write(f"time travel, {tables:,} tables: {scenario.name}\n")
        workflow = {
            "workflow": WORKFLOW,
            "source": {"type": SOURCE_TYPE, "config": {**config, "columns": columns}},
            "sinks": [{"type": "duckdb"}],
            "state": {"path": str(state)},
            "deletions": {"fail_safe_percent": 5},
        }
        done.append(measure_run(scenario, workflow, work))
    return state, done


def timed(what: str, call: Callable[[], int]) -> Timing:
    start = time.perf_counter()
    rows = call()
    return Timing(what, time.perf_counter() - start, rows)


def api_timings(state: Path, tables: int, key: str) -> list[Timing]:
    from syncer.state import StateStore
    from syncer.state import history as past
    from syncer.timetravel import diff

    store = StateStore.open(state, version="bench", read_only=True)
    con = store.connection
    first, last = 1, len(runs(tables))

    def whole(run_id: int) -> int:
        found = con.execute(
            "SELECT count(*), sum(length(payload::VARCHAR)) FROM entities_as_of(?)", [run_id]
        ).fetchall()
        return int(found[0][0])

    def one_entity() -> int:
        return len(past.entity_as_of(con, key, 4)) + len(past.entity_versions(con, key).items)

    def differences() -> int:
        page = past.changed_between(con, first, last, limit=tables)
        return len([diff(d) for d in page.items])

    try:
        return [
            timed(f"SQL: entities_as_of({first}), payloads read", lambda: whole(first)),
            timed(f"SQL: entities_as_of({last}), payloads read", lambda: whole(last)),
            timed(
                "API: entities_as_of, first page of 1,000",
                lambda: len(past.entities_as_of(con, last).items),
            ),
            timed(
                "API: entities_as_of, a page at 90%",
                lambda: len(past.entities_as_of(con, last, offset=tables * 9 // 10).items),
            ),
            timed("API: one entity as of run 4, and its versions", one_entity),
            timed(f"API: changed_between({first}, {last}) + field diffs", differences),
        ]
    finally:
        store.close()


def cli_timings(state: Path, tables: int, fqn: str, schema: str) -> list[Timing]:
    """`syncer show` and `syncer diff` as a user runs them: interpreter start included."""
    syncer = str(Path(sys.executable).with_name("syncer"))
    last = str(len(runs(tables)))

    def command(*args: str) -> Callable[[], int]:
        def call() -> int:
            done = subprocess.run(
                [syncer, *args, "--state", str(state)],
                env=child_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.stderr.write(f"syncer {' '.join(args)} exited {done.returncode}\n")
            return len(done.stdout.splitlines())

        return call

    return [
        timed(f"CLI: syncer show {fqn} --as-of 3", command("show", fqn, "--as-of", "3")),
        timed(
            f"CLI: syncer diff --from 1 --to {last} --format json (lines)",
            command("diff", "--from", "1", "--to", last, "--format", "json", "--limit", "100000"),
        ),
        timed(
            f"CLI: syncer diff --from 3 --to 4 --fqn '{schema}.*' (lines)",
            command("diff", "--from", "3", "--to", "4", "--fqn", f"{schema}.*"),
        ),
    ]


def deleted_table(state: Path) -> tuple[str, str]:
    """A table the fourth run deleted, and its schema: what `show` and `diff --fqn` ask for."""
    con = duckdb.connect(str(state), read_only=True)
    try:
        found = con.execute(
            "SELECT c.key, e.parent_key FROM changes c JOIN entities e USING (workflow, stream, "
            "key) WHERE c.kind = 'deleted' AND c.entity_type = 'table' ORDER BY c.seq LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    if not found:
        raise RuntimeError(f"{state}: the run that deletes 1% of the tables deleted none")
    return str(found[0][0]), str(found[0][1])


def run(work: Path, tables: int, columns: int = 10) -> tuple[list[Measurement], list[Timing]]:
    folder = work / "timetravel"
    folder.mkdir(parents=True, exist_ok=True)
    state, built = build(folder, tables, columns)
    fqn, schema = deleted_table(state)
    return built, api_timings(state, tables, fqn) + cli_timings(state, tables, fqn, schema)


def report(tables: int, built: list[Measurement], timings: list[Timing]) -> list[str]:
    lines = [
        f"## Time travel ({tables:,} tables, five runs: bench/timetravel.py)",
        "",
        "| run | wall s | created / updated / deleted |",
        "| --- | ---: | ---: |",
    ]
    for m in built:
        c = m.counters
        status = "" if m.exit_code == 0 else f" (exit {m.exit_code})"
        lines.append(
            f"| {m.scenario.name}{status} | {m.wall:.2f} | {c.get('created', 0):,} / "
            f"{c.get('updated', 0):,} / {c.get('deleted', 0):,} |"
        )
    lines += ["", "| operation | seconds | rows |", "| --- | ---: | ---: |"]
    lines += [f"| {t.what} | {t.seconds:.3f} | {t.rows:,} |" for t in timings]
    return [*lines, ""]
