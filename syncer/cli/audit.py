"""Commands that read or maintain the state: history, changes, violations, sql, state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from syncer import config as configs
from syncer import cursor as cursors
from syncer import delivery
from syncer.cli.app import (
    OutputFormat,
    cli,
    config_option,
    config_workflow,
    format_option,
    out,
    reader,
    state_option,
    workflow_store,
)
from syncer.cli.output import compact_table, emit, print_backlog, print_query
from syncer.errors import ConfigError
from syncer.sinks.duckdb_catalog import DuckDBCatalogConfig, DuckDBCatalogSink
from syncer.state.runs import BY_HAND
from syncer.state.schema import MACROS, VIEWS
from syncer.steps import Counters, Sink
from syncer.text import first_line


@cli.command()
@state_option
@config_option
@click.option("--workflow", help="Only this workflow.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--wide",
    is_flag=True,
    help="Every column of run_summary in the table (csv and json always have them all).",
)
@format_option
def history(
    state_path: Path | None,
    config_path: Path | None,
    workflow: str | None,
    limit: int,
    wide: bool,
    fmt: OutputFormat,
) -> None:
    """List the latest runs (--limit), oldest first, with their counters."""
    workflow = workflow or config_workflow(config_path)
    where, params = ("WHERE workflow = ?", [workflow]) if workflow else ("", [])
    sql = latest_oldest_first(f"SELECT * FROM run_summary {where}", "run_id")
    with reader(state_path, config_path) as store:
        if fmt != "table":
            print_query(store, sql, [*params, limit], fmt, empty="no runs")
            return
        runs = store.connection.execute(sql, [*params, limit])
        names = [d[0] for d in runs.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in runs.fetchall()]
    if wide:  # as wide as it takes: for a wide terminal, or `less -S`
        table = compact_table([(n, n in _NUMBERS) for n in names], flexible="error")
        cells = [tuple(_wide_cell(run[n]) for n in names) for run in rows]
        emit(names, cells, "table", empty="no runs", table=table, natural_width=True)
        return
    table = compact_table([(name, right) for name, right, _ in _HISTORY], flexible="workflow")
    cells = [tuple(cell(run) for _, _, cell in _HISTORY) for run in rows]
    emit([name for name, _, _ in _HISTORY], cells, "table", empty="no runs", table=table)


def latest_oldest_first(query: str, order: str) -> str:
    """`query`'s latest rows by `order` (a LIMIT ? to fill), listed oldest first: what every
    listing command shows, the newest last, next to the prompt."""
    return f"SELECT * FROM ({query} ORDER BY {order} DESC LIMIT ?) ORDER BY {order}"


_NUMBERS = {"run_id", *Counters.FIELDS}


def _wide_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _started(run: dict[str, Any]) -> str:
    started: datetime = run["started_at"]
    return started.astimezone(UTC).strftime("%m-%d %H:%M")


def _duration(run: dict[str, Any]) -> str:
    """How long a run took: 0.4s, 3m05s, 2h03m; "" while it runs."""
    if run["ended_at"] is None:
        return ""
    seconds = max((run["ended_at"] - run["started_at"]).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


# The history table's columns: name, right-aligned, the cell from a run_summary row.
_HISTORY: tuple[tuple[str, bool, Callable[[dict[str, Any]], str]], ...] = (
    ("run", True, lambda run: str(run["run_id"])),
    ("workflow", False, lambda run: str(run["workflow"])),
    ("status", False, lambda run: str(run["status"])),
    ("started UTC", False, _started),
    ("duration", True, _duration),
    *(
        (name, True, lambda run, name=name: str(run[name]))
        for name in ("created", "updated", "deleted", "errors")
    ),
)


@cli.command()
@state_option
@config_option
@click.option("--run", "run_id", type=int, help="Only this run (default: the latest).")
@click.option("--action", type=click.Choice(["warn", "drop", "fail"]), help="Only this action.")
@format_option
def violations(
    state_path: Path | None,
    config_path: Path | None,
    run_id: int | None,
    action: str | None,
    fmt: OutputFormat,
) -> None:
    """List the rules entities broke in a run (the `policy` processor's findings)."""
    conditions = ["run_id = coalesce(?, (SELECT max(run_id) FROM violations))"]
    params: list[Any] = [run_id]
    workflow = config_workflow(config_path)
    if workflow:
        conditions.append("workflow = ?")
        params.append(workflow)
    if action:
        conditions.append("action = ?")
        params.append(action)
    sql = (
        "SELECT run_id, action, rule, entity_type, key AS fqn, message FROM violations "
        f"WHERE {' AND '.join(conditions)} ORDER BY action, rule, key"
    )
    with reader(state_path, config_path) as store:
        print_query(store, sql, params, fmt, empty="no violations")


@cli.command()
@state_option
@config_option
@click.option("--run", "run_id", type=int, help="Only changes of this run.")
@click.option("--fqn", "pattern", help="Only entities whose FQN matches this glob (* and ?).")
@click.option("--pending", is_flag=True, help="Only changes a sink refused, awaiting retry.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@format_option
def changes(
    state_path: Path | None,
    config_path: Path | None,
    run_id: int | None,
    pattern: str | None,
    pending: bool,
    limit: int,
    fmt: OutputFormat,
) -> None:
    """List committed changes: the latest (--limit), oldest first, as `syncer events` does."""
    conditions: list[str] = []
    params: list[Any] = []
    workflow = config_workflow(config_path)
    if workflow:
        conditions.append("workflow = ?")
        params.append(workflow)
    if run_id is not None:
        conditions.append("run_id = ?")
        params.append(run_id)
    if pattern:
        conditions.append("fqn GLOB ?")
        params.append(pattern)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    if pending:
        latest = f"SELECT * FROM pending_changes {where} ORDER BY seq DESC, sink DESC LIMIT ?"
        sql = f"SELECT * FROM ({latest}) ORDER BY seq, sink"
    else:
        sql = latest_oldest_first(
            "SELECT seq, run_id, workflow, kind, entity_type, fqn, changed_fields "
            f"FROM change_log {where}",
            "seq",
        )
    with reader(state_path, config_path) as store:
        print_query(store, sql, [*params, limit], fmt, empty="no changes")
        if pending and fmt == "table":
            print_backlog(store, workflow)


@cli.command()
@click.argument("query")
@state_option
@config_option
@format_option
def sql(query: str, state_path: Path | None, config_path: Path | None, fmt: OutputFormat) -> None:
    """Run a read-only SQL QUERY against the state (views: run_summary, change_log, ...)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {first_line(exc)}") from None
    if len(statements) != 1:
        raise ConfigError("syncer sql runs one statement at a time; split the query")
    with reader(state_path, config_path) as store:
        # Read-only covers the database; this also keeps a query from reading or writing files.
        store.connection.execute("SET enable_external_access = false")
        print_query(store, query, [], fmt)


@cli.group()
def state() -> None:
    """Inspect, check, back up or reset the state file."""


@state.command("show")
@state_option
@config_option
def state_show(state_path: Path | None, config_path: Path | None) -> None:
    """Summarize the state file: workflows, entities, watermarks, sink offsets, views."""
    with reader(state_path, config_path) as store:
        out.print(f"state file: {store.path}")
        print_query(
            store,
            "SELECT version AS schema_version, syncer_version, migrated_at "
            "FROM schema_version ORDER BY version DESC LIMIT 1",
            [],
            "table",
        )
        print_query(
            store,
            "SELECT workflow, entity_type, count(*) AS entities FROM current_entities "
            "GROUP BY ALL ORDER BY ALL",
            [],
            "table",
        )
        marks = store.watermarks()
        out.print(f"watermarks: {len(marks) or 'none'}", markup=False)
        if marks:
            emit(
                ["workflow", "stream", "cursor_field", "value", "set_by"],
                [(m.workflow, m.stream, m.cursor_field, m.value, _set_by(m.run_id)) for m in marks],
                "table",
            )
        print_query(store, "SELECT * FROM sink_backlog ORDER BY ALL", [], "table")
        for name, about in VIEWS.items():
            out.print(f"view {name}: {about}", markup=False)
        for name, about in MACROS.items():
            out.print(f"table macro {name}{about}", markup=False)


@state.command("prune")
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    required=True,
    help="Keep the history of runs that started within this many days.",
)
@click.option("--workflow", help="The workflow to prune (default: --config's).")
@state_option
@config_option
def state_prune(
    keep_days: int, workflow: str | None, state_path: Path | None, config_path: Path | None
) -> None:
    """Forget old change-log rows and runs; current entities and undelivered changes stay."""
    before = datetime.now(UTC) - timedelta(days=keep_days)
    with workflow_store("prune", workflow, state_path, config_path) as (workflow, _, store):
        changes, runs = store.prune(workflow, before)
    out.print(
        f"pruned {workflow}: {changes} changes and {runs} runs from before "
        f"{before:%Y-%m-%d %H:%M} UTC"
    )


@state.command("reset")
@click.argument("workflow", required=False)
@click.option("--workflow", "workflow_option", help="The workflow (default: --config's).")
@click.option(
    "--stream",
    help="Only this stream's watermark: forget it (its next run reads the stream whole), or "
    "set it with --to. Nothing else changes.",
)
@click.option(
    "--to",
    "to_value",
    metavar="VALUE",
    help="With --stream: set the watermark to VALUE (e.g. 2024-05-01T00:00:00+00:00, or an "
    "integer for an integer cursor) instead of forgetting it.",
)
@state_option
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def state_reset(
    workflow: str | None,
    workflow_option: str | None,
    stream: str | None,
    to_value: str | None,
    state_path: Path | None,
    config_path: Path | None,
    yes: bool,
) -> None:
    """Forget WORKFLOW's history (default: --config's workflow); its next run starts afresh.

    The sinks that write into the state file (the embedded catalog) forget it too: --config's,
    or without it the embedded catalog in its default schema. With --stream, only that
    stream's watermark is forgotten (or, with --to, set back)."""
    if workflow and workflow_option and workflow != workflow_option:
        raise click.UsageError("name the workflow once: as WORKFLOW or with --workflow")
    workflow = workflow or workflow_option
    if to_value is not None and stream is None:
        raise click.UsageError("--to sets one stream's watermark: give --stream too")
    if stream is not None:
        _reset_watermark(workflow, stream, to_value, state_path, config_path, yes)
        return
    sinks: list[tuple[str, Sink]] = (
        configs.load(config_path).sinks
        if config_path is not None
        else [("duckdb", DuckDBCatalogSink(DuckDBCatalogConfig()))]
    )
    with workflow_store("reset", workflow, state_path, config_path) as (workflow, path, store):
        if not yes:
            click.confirm(
                f"Forget every run, entity and change of {workflow!r} in {path}?", abort=True
            )
        delivery.reset(store, workflow, sinks)
    out.print(f"reset {workflow} in {path}")


def _reset_watermark(
    workflow: str | None,
    stream: str,
    to_value: str | None,
    state_path: Path | None,
    config_path: Path | None,
    yes: bool,
) -> None:
    """Forget one stream's watermark, or set it to `to_value`; nothing else is touched."""
    with workflow_store("reset", workflow, state_path, config_path) as (workflow, path, store):
        marks = {m.stream: m for m in store.watermarks(workflow)}
        mark = marks.get(stream)
        if mark is None:
            raise ConfigError(
                f"{path}: workflow {workflow!r} has no watermark for stream {stream!r} "
                f"(streams with one: {', '.join(marks) or 'none'})"
            )
        value = None if to_value is None else _cursor_text(to_value, mark.kind)
        was = f"{mark.cursor_field} = {mark.value}, set by {_set_by(mark.run_id)}"
        if not yes:
            question = (
                f"Forget the watermark of stream {stream!r} of {workflow!r} in {path} ({was})? "
                "Its next run reads the stream whole"
                if value is None
                else f"Set the watermark of stream {stream!r} of {workflow!r} in {path} to "
                f"{value} ({was})?"
            )
            click.confirm(question, abort=True)
        store.reset_watermark(workflow, stream, value)
    done = "forgot" if value is None else f"set to {value}"
    out.print(f"watermark of {workflow} stream {stream} {done} (was {mark.value})", markup=False)


def _cursor_text(text: str, kind: str) -> str:
    """A watermark typed by a user, in the form the state keeps for its kind."""
    try:
        if kind == "datetime":
            return cursors.to_text(cursors.from_text(text, "datetime"), "datetime")
        if kind == "integer":
            return cursors.to_text(cursors.from_text(text, "integer"), "integer")
    except ValueError:
        example = "2024-05-01T00:00:00+00:00" if kind == "datetime" else "1714521600000"
        raise ConfigError(f"--to: {text!r} is not a {kind} cursor value (e.g. {example})") from None
    return text


def _set_by(run_id: int) -> str:
    return "state reset" if run_id == BY_HAND else f"run {run_id}"
