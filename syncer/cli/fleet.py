"""`syncer fleet`: many state files at once (status, SQL over all of them, Prometheus metrics),
read without their configs or secrets, never blocking or writing a running workflow's file.

Exit codes: 0 every file was read (a busy one counts: it is shown from its summary); 1 some
file could not be read (damaged, not a state file, of another schema: each is named on stderr
with the reason, and the others are still reported); 2 a bad command line, such as patterns
that match no file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from syncer import fleet
from syncer.cli.app import OutputFormat, cli, err, format_option, out
from syncer.cli.output import compact_table, emit, emit_result
from syncer.errors import ConfigError
from syncer.text import first_line

states_option = click.option(
    "--states",
    "patterns",
    multiple=True,
    required=True,
    help="State files, as a glob ('fleet/**/*.duckdb': quote it so that the shell leaves it "
    "alone; ** crosses folders); repeat it for more.",
)

_COUNTERS = ("scanned", "created", "updated", "deleted", "errors")
STATUS_COLUMNS = (
    "state_file",
    "workflow",
    "file",
    "run_id",
    "status",
    "ended_at",
    "age_seconds",
    "duration_seconds",
    *_COUNTERS,
    "refused_deletions",
    "backlog",
    "dead_letters",
    "error",
)


@cli.group("fleet")
def fleet_group() -> None:
    """Many state files at once: status, SQL, metrics.

    Every workflow of every state file, read without its config or secrets, never blocking
    or writing a running workflow's file."""


@fleet_group.command("status")
@states_option
@format_option
def status(patterns: tuple[str, ...], fmt: OutputFormat) -> None:
    """List every workflow of every state file.

    One row per workflow: its last run, how long ago, its counters, what its sinks still
    owe. A file a run holds is `busy`, shown from the summary its last run left beside it.
    Exit 1 if some file could not be read (named on stderr), 2 if none matched."""
    files = list(fleet.read_fleet(_matching(patterns)))
    now = datetime.now(UTC)
    rows = [status_row(file, flow, now) for file in files for flow in file.workflows]
    rows += [_busy_without_summary(file) for file in files if _unknown_busy(file)]
    if fmt == "table":
        _print_table(rows)
    else:
        columns = list(STATUS_COLUMNS)
        if fmt in ("json", "jsonl"):  # a document carries each sink's figures too
            columns.append("sinks")
            sinks = {
                (str(file.path), flow.workflow): [
                    {"sink": s.sink, "backlog": s.backlog, "dead_letters": s.dead_letters}
                    for s in flow.sinks
                ]
                for file in files
                for flow in file.workflows
            }
            rows = [(*row, sinks.get((row[0], row[1]), [])) for row in rows]
        emit(columns, rows, fmt)
    _exit(files)


def status_row(
    file: fleet.FileStatus, flow: fleet.WorkflowStatus, now: datetime
) -> tuple[Any, ...]:
    """A workflow's row of `fleet status`, in `STATUS_COLUMNS` order."""
    when = flow.ended_at or flow.started_at
    return (
        str(file.path),
        flow.workflow,
        file.access,
        flow.run_id,
        flow.status,
        flow.ended_at.isoformat(timespec="seconds") if flow.ended_at else None,
        max(0, int((now - when).total_seconds())),
        flow.duration_seconds,
        *(flow.total.get(name, 0) for name in _COUNTERS),
        flow.total.get("refused", 0),
        flow.backlog,
        flow.dead_letters,
        flow.error,
    )


# The table's columns: a short header for each of `STATUS_COLUMNS` it shows (all but the
# end time, the duration and the error, which CSV and JSON carry), and whether to right-align.
_TABLE = {
    "state_file": ("state file", False),
    "workflow": ("workflow", False),
    "file": ("file", False),
    "run_id": ("run", True),
    "status": ("status", False),
    "age_seconds": ("age", True),
    **{name: (name, True) for name in _COUNTERS},
    "refused_deletions": ("refused", True),
    "backlog": ("backlog", True),
    "dead_letters": ("dead", True),
}


def _print_table(rows: Sequence[tuple[Any, ...]]) -> None:
    if not rows:
        out.print("no workflows in these state files", markup=False)
        return
    at = [STATUS_COLUMNS.index(name) for name in _TABLE]
    table = compact_table(list(_TABLE.values()), flexible="state file")
    age = STATUS_COLUMNS.index("age_seconds")
    for row in rows:
        cells = ["" if row[i] is None else str(row[i]) for i in at]
        if row[age] is not None:
            cells[at.index(age)] = age_text(int(row[age]))
        table.add_row(*cells)
    out.print(table)


def age_text(seconds: int) -> str:
    """An age as a person reads it: 45s, 12m, 5h, 3d."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _unknown_busy(file: fleet.FileStatus) -> bool:
    return file.access == "busy" and not file.workflows


def _busy_without_summary(file: fleet.FileStatus) -> tuple[Any, ...]:
    row: list[Any] = [None] * len(STATUS_COLUMNS)
    row[0], row[2] = str(file.path), file.access
    return tuple(row)


@fleet_group.command("sql")
@click.argument("query")
@states_option
@format_option
@click.option(
    "--memory-limit",
    default="256MB",
    show_default=True,
    help="DuckDB's memory limit for the query over every file (it spills to disk beyond).",
)
def sql(query: str, patterns: tuple[str, ...], fmt: OutputFormat, memory_limit: str) -> None:
    """Run a read-only SQL QUERY over every state file.

    The state's views (run_summary, change_log, sink_backlog, ...) hold the rows of every
    file, with a `state_file` column first. Busy files are skipped with a warning."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {first_line(exc)}") from None
    if len(statements) != 1:
        raise ConfigError("syncer fleet sql runs one statement at a time; split the query")
    paths = _matching(patterns)
    try:
        connection, attached, skipped = fleet.attach_fleet(
            paths, memory_limit=memory_limit, views=fleet.views_named(query)
        )
    except duckdb.Error as exc:  # what each file met is in `skipped`: this is the setting
        raise ConfigError(
            f"--memory-limit {memory_limit!r}: {first_line(exc)}; give a size such as 512MB"
        ) from None
    try:
        for problem in skipped:
            kind = "skipped" if problem.access == "busy" else "unreadable, skipped"
            err.print(f"warning: {kind}: {problem.reason}", markup=False)
        if not attached:
            raise ConfigError(
                f"none of the {len(paths)} state files could be read: see the warnings above"
            )
        _print_result(connection, query, fmt)
    finally:
        connection.close()
    if any(problem.access == "unreadable" for problem in skipped):
        sys.exit(1)


def _print_result(connection: Any, query: str, fmt: OutputFormat) -> None:
    import duckdb

    try:
        result = connection.execute(query)
    except duckdb.Error as exc:
        message = first_line(exc)
        if "read-only" in message or "external access" in message.lower():
            message = "syncer fleet sql only reads the state files, and no other file"
        raise ConfigError(f"query failed: {message}") from None
    emit_result(result, fmt, empty="no rows")


@fleet_group.command("metrics")
@click.option(
    "--textfile",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The *.prom file to replace, in node-exporter's --collector.textfile.directory.",
)
@states_option
def metrics(textfile: Path, patterns: tuple[str, ...]) -> None:
    """Write every workflow's metrics for node-exporter.

    The last run's metrics of every workflow of every state file (labels workflow and
    state_file), in node-exporter's textfile format, replacing the file atomically."""
    if textfile.suffix != ".prom":
        raise ConfigError(
            f"--textfile {textfile.name!r} must end in .prom: node-exporter's textfile "
            "collector reads only *.prom files"
        )
    files = list(fleet.read_fleet(_matching(patterns)))
    try:
        fleet.write_fleet_textfile(textfile, files)
    except OSError as exc:
        raise ConfigError(
            f"cannot write --textfile {textfile} ({exc.strerror}): point it at a writable folder"
        ) from None
    _exit(files)


def _matching(patterns: Sequence[str]) -> list[Path]:
    paths = fleet.state_files(patterns)
    if not paths:
        shown = " ".join(repr(p) for p in patterns)
        raise ConfigError(f"--states {shown} matches no file: check the pattern (quote it)")
    return paths


def _exit(files: Sequence[fleet.FileStatus]) -> None:
    """Name each file that could not be read on stderr; exit 1 if there was one."""
    unreadable = [file for file in files if file.access == "unreadable"]
    for file in unreadable:
        err.print(f"warning: unreadable, skipped: {file.reason}", markup=False)
    if unreadable:
        sys.exit(1)
