"""How commands print: tables, CSV and JSON of query results, a run's counters and document.

The formats mean one thing everywhere: `json` one JSON array (an object for `run` and `plan`),
`jsonl` one object per line, `csv` a header and rows, `table` a table that says so when it is
empty ("no runs"). Tables fit the terminal: on one that is not interactive (a pipe, a file,
`TERM=dumb`) there are no colours, no progress display and no control codes.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from rich import box
from rich.measure import Measurement
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from syncer.cli.app import OutputFormat, err, out
from syncer.errors import ConfigError
from syncer.logging import masked
from syncer.state import StateStore, state_error
from syncer.steps import Counters
from syncer.text import first_line
from syncer.workflow import RunResult

# Counter columns a run's summary always shows; the others only when one of its rows is not 0.
_ALWAYS_SHOWN = ("scanned",)


def print_query(
    store: StateStore,
    query: str,
    params: Sequence[Any],
    fmt: OutputFormat,
    *,
    empty: str | None = None,
) -> None:
    import duckdb

    try:
        result = store.connection.execute(query, list(params))
    except duckdb.Error as exc:
        damage = state_error(store.path, exc)  # the file itself: damaged, not the query
        if damage is not None:
            raise damage from None
        message = first_line(exc)
        if "read-only" in message:
            message = "the state is opened read-only here; syncer sql only reads"
        raise ConfigError(f"query failed: {message}") from None
    emit_result(result, fmt, empty=empty)


def emit_result(result: Any, fmt: OutputFormat, *, empty: str | None = None) -> None:
    """A DuckDB query's result (nothing for a statement without one), as `emit` prints rows."""
    if result.description is None:
        return
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    if fmt == "json":  # JSON columns come back as text; nest them instead of quoting them
        json_at = [i for i, d in enumerate(result.description) if str(d[1]) == "JSON"]
        rows = [_parse_json_cells(row, json_at) for row in rows] if json_at else rows
    emit(columns, rows, fmt, empty=empty)


def _parse_json_cells(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    cells = list(row)
    for i in positions:
        if isinstance(cells[i], str):
            cells[i] = orjson.Fragment(cells[i])
    return tuple(cells)


def emit(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    fmt: OutputFormat,
    *,
    empty: str | None = None,
    table: RichTable | None = None,
    natural_width: bool = False,
) -> None:
    """Rows in a format; `empty` is what a table says instead of showing no rows ("no runs"),
    `table` a table to fill instead of the default one, which `natural_width` does not fit to
    the terminal."""
    if fmt in ("json", "jsonl"):
        objects = [dict(zip(columns, row, strict=True)) for row in rows]
        print_json(objects, lines=fmt == "jsonl")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        sys.stdout.write(buffer.getvalue())
    elif not rows and empty is not None:
        out.print(empty, markup=False)
    else:
        table = table if table is not None else RichTable(*columns, show_lines=False)
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        if not natural_width:
            out.print(table)
            return
        needed = Measurement.get(out, out.options.update_width(100_000), table).maximum
        fitted = out.width
        out.width = max(fitted, needed)
        try:
            out.print(table)
        finally:
            out.width = fitted


def print_json(value: Any, *, lines: bool = False, indent: bool = True) -> None:
    """JSON on stdout: `value` as one document (`indent`: on several lines), or with `lines`
    each item of a list on a line of its own."""
    option = orjson.OPT_NON_STR_KEYS
    if lines:
        sys.stdout.writelines(
            orjson.dumps(item, default=str, option=option).decode() + "\n" for item in value
        )
        return
    if indent:
        option |= orjson.OPT_INDENT_2
    sys.stdout.write(orjson.dumps(value, default=str, option=option).decode() + "\n")


def compact_table(columns: Sequence[tuple[str, bool]], flexible: str) -> RichTable:
    """A table that fits 80 columns: one space between columns, a rule under the headers;
    `columns` are (name, right-aligned), and only `flexible` is cut (with "…") to fit."""
    table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, padding=0, pad_edge=False)
    for name, right in columns:
        table.add_column(
            name,
            justify="right" if right else "left",
            no_wrap=name != flexible,
            overflow="ellipsis" if name == flexible else "fold",
            min_width=None if name == flexible else len(name),
        )
    return table


def print_backlog(store: StateStore, workflow: str | None) -> None:
    """Changes a sink never got to see because it was down: they are pending too."""
    rows = store.connection.execute(
        "SELECT workflow, sink, backlog FROM sink_backlog WHERE backlog > 0 "
        "AND (? IS NULL OR workflow = ?) ORDER BY ALL",
        [workflow, workflow],
    ).fetchall()
    for flow, sink, backlog in rows:
        out.print(
            f"{flow}: sink {sink} has {backlog} changes not yet delivered; the next run sends them",
            markup=False,
        )


def _cell(value: Any) -> str:
    """A value as text: lists and structs as JSON, not as Python's repr."""
    if value is None:
        return ""
    if isinstance(value, list | dict | tuple):
        return orjson.dumps(value, default=str).decode()
    return str(value)


@contextmanager
def progress_line(enabled: bool = True) -> Iterator[Any]:
    """A spinner with the stream being read, on an interactive stderr only. While it shows,
    log lines are printed above it (rich swaps stderr for a proxy; `syncer.logging` writes to
    whatever stderr is then)."""
    if not enabled or not err.is_interactive:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        redirect_stderr=True,
        redirect_stdout=True,
    ) as bar:
        task = bar.add_task("starting")

        def update(stream: str, scanned: int) -> None:
            bar.update(task, description=f"{stream}: {scanned:,} read")

        yield update


def print_document(document: Mapping[str, Any]) -> None:
    """A run's document (`syncer.results.run_document`) on stdout, secrets masked, on one
    line: `syncer run --format json >> runs.jsonl` keeps a file of runs."""
    print_json(masked(dict(document)), indent=False)


def shown_counters(rows: Sequence[Counters]) -> list[str]:
    """The counter columns of a run's summary: `scanned`, and each other one not 0 somewhere."""
    return [
        name
        for name in Counters.FIELDS
        if name in _ALWAYS_SHOWN or any(getattr(row, name) for row in rows)
    ]


def print_result(result: RunResult, workflow: str, planned: bool = False) -> None:
    title = "plan" if planned else f"run {result.run_id}"
    table = RichTable(title=f"{workflow} {title}: {result.status}", title_justify="left")
    rows = [*result.streams.items(), ("total", result.counters)]
    names = shown_counters([counters for _, counters in rows])
    table.add_column("stream")
    for name in names:
        table.add_column(name, justify="right")
    for stream, counters in rows:
        table.add_row(stream, *(str(getattr(counters, name)) for name in names))
    out.print(table)
    if result.counters.refused:
        refused = result.counters.refused
        what = "1 deletion" if refused == 1 else f"{refused} deletions"
        out.print(
            f"{what} refused by the deletion guards: the warnings say why (--strict exits 1)",
            markup=False,
        )
    if result.violations:
        counts = Counter(v.action for v in result.violations)
        summary = ", ".join(f"{counts[a]} {a}" for a in ("fail", "drop", "warn") if counts[a])
        hint = "" if planned else f" (see `syncer violations --run {result.run_id}`)"
        out.print(f"rules broken: {summary}{hint}", markup=False)
    for report in result.deliveries:
        line = f"sink {report.sink}: {report.delivered} delivered"
        if report.refused:
            line += f", {report.refused} refused"
        if report.held:
            line += f", {report.held} waiting"
        if report.refused or report.held:
            line += " (see `syncer changes --pending`)"
        if report.error:
            line += f"; FAILED: {report.error}; {report.backlog} changes wait for the next run"
        out.print(line, markup=False)
        for key, count in report.waiting.items():  # once per refused change, not per child
            waits = "1 change waits" if count == 1 else f"{count} changes wait"
            out.print(f"  {waits} for {key}, which sink {report.sink} refused", markup=False)
    # Warnings were logged as they happened; a failed run still ends on one plain error line,
    # like every other command that fails.
    if result.status == "failed" and result.error:
        err.print(f"error: {result.error}", markup=False)
