"""How commands print: tables, CSV and JSON of query results, and a run's counters."""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from state import StateStore, state_error
from syncer.cli.app import OutputFormat, err, out
from syncer.errors import ConfigError
from syncer.text import first_line
from syncer.workflow import RunResult


def print_query(store: StateStore, query: str, params: Sequence[Any], fmt: OutputFormat) -> None:
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
    if result.description is None:
        return
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    if fmt == "json":  # JSON columns come back as text; nest them instead of quoting them
        json_at = [i for i, d in enumerate(result.description) if str(d[1]) == "JSON"]
        rows = [_parse_json_cells(row, json_at) for row in rows] if json_at else rows
    emit(columns, rows, fmt)


def _parse_json_cells(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    cells = list(row)
    for i in positions:
        if isinstance(cells[i], str):
            cells[i] = orjson.Fragment(cells[i])
    return tuple(cells)


def emit(columns: list[str], rows: list[tuple[Any, ...]], fmt: OutputFormat) -> None:
    if fmt == "json":
        for row in rows:
            sys.stdout.write(
                orjson.dumps(
                    dict(zip(columns, row, strict=True)),
                    default=str,
                    option=orjson.OPT_NON_STR_KEYS,
                ).decode()
                + "\n"
            )
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        sys.stdout.write(buffer.getvalue())
    else:
        table = RichTable(*columns, show_lines=False)
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        out.print(table)


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
def progress_line() -> Iterator[Any]:
    if not err.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting")

        def update(stream: str, scanned: int) -> None:
            bar.update(task, description=f"{stream}: {scanned:,} read")

        yield update


def print_result(result: RunResult, workflow: str, planned: bool = False) -> None:
    title = "plan" if planned else f"run {result.run_id}"
    table = RichTable(title=f"{workflow} {title}: {result.status}", title_justify="left")
    names = ["stream", *result.counters.as_dict()]
    for name in names:
        table.add_column(name, justify="left" if name == "stream" else "right")
    for stream, counters in [*result.streams.items(), ("total", result.counters)]:
        table.add_row(stream, *(str(v) for v in counters.as_dict().values()))
    out.print(table)
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
