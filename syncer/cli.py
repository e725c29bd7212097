"""The `syncer` command line: run and plan workflows, and audit the state with SQL.

Exit codes: 0 success, 1 a failed run, 2 a bad command line, config or state file.
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import click
import orjson
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from state.schema import VIEWS
from state.store import StateStore
from syncer import __version__, plugins
from syncer import config as configs
from syncer import logging as logs
from syncer.errors import ConfigError, StateError, SyncerError
from syncer.secrets import redact
from syncer.steps import Sink, Source
from syncer.workflow import RunResult, Workflow

OutputFormat = Literal["table", "csv", "json"]
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
if not _out.is_terminal:  # in pipes and logs, do not squeeze tables into 80 columns
    _out.width = 200

_state_option = click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    help="State file (default: the config's state.path, else .syncer/state.duckdb).",
)
_config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Workflow config whose state file and workflow name to use.",
)
_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)


_fail_safe_option = click.option(
    "--fail-safe-percent",
    "fail_safe",
    type=click.FloatRange(0, 100),
    help="Override deletions.fail_safe_percent for this run only.",
)


class _Group(click.Group):
    """Turns errors into one masked line on stderr and the documented exit code; a bug shows
    its traceback only with --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SyncerError as exc:
            _err.print(f"[red]error:[/red] {redact(str(exc))}", markup=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("debug"):
                raise
            first = (redact(str(exc)).splitlines() or [""])[0]
            _err.print(
                f"error: internal error: {type(exc).__name__}: {first} "
                "(run with --debug for the traceback, and please report it)",
                markup=False,
            )
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="syncer")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    help="Log lines as console text or JSON (auto: console on a terminal).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
@click.pass_context
def cli(ctx: click.Context, log_format: logs.LogFormat, log_level: str, debug: bool) -> None:
    """Keep a metadata catalog in step with the systems it describes."""
    ctx.meta["debug"] = debug
    logs.configure(log_format, log_level)


@cli.command()
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--full-refresh", is_flag=True, help="Ignore watermarks and read everything.")
@_fail_safe_option
@_state_option
def run(
    config_path: Path, full_refresh: bool, fail_safe: float | None, state_path: Path | None
) -> None:
    """Sync CONFIG: extract, diff, commit, deliver to every sink."""
    loaded = _load(config_path, state_path, fail_safe)
    store = StateStore.open(loaded.state_path, memory_limit=loaded.spec.state.memory_limit)
    try:
        with _progress() as progress:
            result = Workflow(loaded, store, full_refresh=full_refresh, progress=progress).run()
    except KeyboardInterrupt:
        _err.print("interrupted: committed batches are kept; the next run carries on from them")
        sys.exit(130)
    finally:
        store.close()
    _print_result(result, loaded.spec.workflow)
    if result.status == "failed" or any(r.error for r in result.deliveries):
        sys.exit(1)


@cli.command()
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--full-refresh", is_flag=True, help="Plan as if watermarks were reset.")
@_fail_safe_option
@_state_option
def plan(
    config_path: Path, full_refresh: bool, fail_safe: float | None, state_path: Path | None
) -> None:
    """Show what a run of CONFIG would create, update and delete; writes nothing."""
    loaded = _load(config_path, state_path, fail_safe)
    path = loaded.state_path
    store = StateStore.open(
        path if path.exists() else ":memory:",
        read_only=path.exists(),
        memory_limit=loaded.spec.state.memory_limit,
    )
    try:
        result = Workflow(loaded, store, full_refresh=full_refresh, dry_run=True).run()
    finally:
        store.close()
    for change in result.planned:
        fields = f"  ({', '.join(change.changed_fields)})" if change.changed_fields else ""
        _out.print(f"{change.kind:<9} {change.entity_type:<15} {change.key}{fields}", markup=False)
    _print_result(result, loaded.spec.workflow, planned=True)
    if result.status == "failed":
        sys.exit(1)


@cli.command("test-connection")
@click.argument("config_path", type=click.Path(path_type=Path))
def test_connection(config_path: Path) -> None:
    """Check that CONFIG's source can be read and each sink can be written."""
    loaded = configs.load(config_path)
    # The source's checks are printed as they are; each sink's are prefixed with its name.
    steps: list[tuple[str, Source | Sink]] = [("", loaded.source)]
    steps += [(f"sink {name}: ", sink) for name, sink in loaded.sinks]
    ok = True
    for label, step in steps:
        try:
            report = step.test_connection()
        finally:
            step.close()
        ok = ok and report.ok
        for check, passed, detail in report.checks:
            mark = "[green]ok[/green]  " if passed else "[red]FAIL[/red]"
            _out.print(f"{mark} {label}{check}: {redact(detail)}")
    if not ok:
        sys.exit(1)


@cli.command()
@_state_option
@_config_option
@click.option("--workflow", help="Only this workflow.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@_format_option
def history(
    state_path: Path | None,
    config_path: Path | None,
    workflow: str | None,
    limit: int,
    fmt: OutputFormat,
) -> None:
    """List recent runs with their counters."""
    workflow = workflow or _config_workflow(config_path)
    where, params = ("WHERE workflow = ?", [workflow]) if workflow else ("", [])
    with _reader(state_path, config_path) as store:
        _query(
            store,
            f"SELECT * FROM run_summary {where} ORDER BY run_id DESC LIMIT ?",
            [*params, limit],
            fmt,
        )


@cli.command()
@_state_option
@_config_option
@click.option("--run", "run_id", type=int, help="Only this run (default: the latest).")
@click.option("--action", type=click.Choice(["warn", "drop", "fail"]), help="Only this action.")
@_format_option
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
    workflow = _config_workflow(config_path)
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
    with _reader(state_path, config_path) as store:
        _query(store, sql, params, fmt)


@cli.command()
@_state_option
@_config_option
@click.option("--run", "run_id", type=int, help="Only changes of this run.")
@click.option("--fqn", "pattern", help="Only entities whose FQN matches this glob (* and ?).")
@click.option("--pending", is_flag=True, help="Only changes a sink refused, awaiting retry.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@_format_option
def changes(
    state_path: Path | None,
    config_path: Path | None,
    run_id: int | None,
    pattern: str | None,
    pending: bool,
    limit: int,
    fmt: OutputFormat,
) -> None:
    """List committed changes, newest first."""
    conditions: list[str] = []
    params: list[Any] = []
    workflow = _config_workflow(config_path)
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
        sql = f"SELECT * FROM pending_changes {where} ORDER BY seq LIMIT ?"
    else:
        sql = (
            f"SELECT seq, run_id, workflow, kind, entity_type, fqn, changed_fields "
            f"FROM change_log {where} ORDER BY seq DESC LIMIT ?"
        )
    with _reader(state_path, config_path) as store:
        _query(store, sql, [*params, limit], fmt)
        if pending and fmt == "table":
            _print_backlog(store, workflow)


@cli.command()
@click.argument("query")
@_state_option
@_config_option
@_format_option
def sql(query: str, state_path: Path | None, config_path: Path | None, fmt: OutputFormat) -> None:
    """Run a read-only SQL QUERY against the state (views: run_summary, change_log, ...)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ConfigError(f"query failed: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise ConfigError("syncer sql runs one statement at a time; split the query")
    with _reader(state_path, config_path) as store:
        # Read-only covers the database; this also keeps a query from reading or writing files.
        store.connection.execute("SET enable_external_access = false")
        _query(store, query, [], fmt)


@cli.group()
def state() -> None:
    """Inspect or reset the state file."""


@state.command("show")
@_state_option
@_config_option
def state_show(state_path: Path | None, config_path: Path | None) -> None:
    """Summarize the state file: workflows, entities, watermarks, sink offsets, views."""
    with _reader(state_path, config_path) as store:
        _out.print(f"state file: {store.path}")
        _query(
            store,
            "SELECT version AS schema_version, syncer_version, migrated_at "
            "FROM schema_version ORDER BY version DESC LIMIT 1",
            [],
            "table",
        )
        _query(
            store,
            "SELECT workflow, entity_type, count(*) AS entities FROM current_entities "
            "GROUP BY ALL ORDER BY ALL",
            [],
            "table",
        )
        _query(
            store,
            "SELECT workflow, stream, cursor_field, value, run_id FROM watermarks ORDER BY ALL",
            [],
            "table",
        )
        _query(store, "SELECT * FROM sink_backlog ORDER BY ALL", [], "table")
        for name, about in VIEWS.items():
            _out.print(f"view {name}: {about}", markup=False)


@state.command("prune")
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    required=True,
    help="Keep the history of runs that started within this many days.",
)
@click.option("--workflow", help="The workflow to prune (default: --config's).")
@_state_option
@_config_option
def state_prune(
    keep_days: int, workflow: str | None, state_path: Path | None, config_path: Path | None
) -> None:
    """Forget old change-log rows and runs; current entities and undelivered changes stay."""
    before = datetime.now(UTC) - timedelta(days=keep_days)
    with _workflow_store("prune", workflow, state_path, config_path) as (workflow, _, store):
        changes, runs = store.prune(workflow, before)
    _out.print(
        f"pruned {workflow}: {changes} changes and {runs} runs from before "
        f"{before:%Y-%m-%d %H:%M} UTC"
    )


@state.command("reset")
@click.argument("workflow", required=False)
@_state_option
@_config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def state_reset(
    workflow: str | None, state_path: Path | None, config_path: Path | None, yes: bool
) -> None:
    """Forget WORKFLOW's history (default: --config's workflow); its next run starts afresh."""
    with _workflow_store("reset", workflow, state_path, config_path) as (workflow, path, store):
        if not yes:
            click.confirm(
                f"Forget every run, entity and change of {workflow!r} in {path}?", abort=True
            )
        store.reset(workflow)
    _out.print(f"reset {workflow} in {path}")


# --- change events ------------------------------------------------------------------------------

_TIME_HELP = "ISO date or time (UTC unless it names an offset), or an age: 30m, 2h, 3d, 1w."
_since_option = click.option("--since", help=f"Only events committed since then. {_TIME_HELP}")
_until_option = click.option("--until", help=f"Only events committed before then. {_TIME_HELP}")
_EVENT_FILTERS = (
    click.option(
        "--type",
        "event_types",
        multiple=True,
        help="Only this event type (entityCreated, entityUpdated, entitySoftDeleted, "
        "entityRestored, entityLineageAdded, entityLineageDeleted); repeatable.",
    ),
    click.option("--entity-type", "entity_types", multiple=True, help="Only this entity type."),
    click.option("--fqn", "patterns", multiple=True, help="Only FQNs matching this glob (* ?)."),
)


def _event_filters(command: Any) -> Any:
    for option in reversed(_EVENT_FILTERS):
        command = option(command)
    return command


@cli.group(invoke_without_command=True)
@_state_option
@_config_option
@click.option("--run", "run_id", type=int, help="Only events of this run.")
@_since_option
@_until_option
@_event_filters
@click.option("--failed", is_flag=True, help="Only dead letters: events a sink gave up on.")
@click.option("--sink", "sink_name", help="With --failed: only this sink's dead letters.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl"]),
    default="table",
    show_default=True,
)
@click.pass_context
def events(
    ctx: click.Context,
    state_path: Path | None,
    config_path: Path | None,
    run_id: int | None,
    since: str | None,
    until: str | None,
    event_types: tuple[str, ...],
    entity_types: tuple[str, ...],
    patterns: tuple[str, ...],
    failed: bool,
    sink_name: str | None,
    limit: int,
    fmt: str,
) -> None:
    """List the change events of the change log, oldest first (the latest --limit of them);
    `replay` sends them again, `retry` revives dead letters."""
    if ctx.invoked_subcommand is not None:
        return
    from syncer import eventlog

    if sink_name is not None and not failed:
        raise ConfigError("--sink goes with --failed: it names the sink whose dead letters to list")
    selection = eventlog.Selection(
        workflow=_config_workflow(config_path),
        run_id=run_id,
        since=_time(since),
        until=_time(until),
        filter=_event_filter(event_types, entity_types, patterns),
        failed=failed,
        sink=sink_name,
        limit=limit,
    )
    with _reader(state_path, config_path) as store:
        selected = eventlog.select(store.connection, selection)
    _print_events(selected, fmt, failed)


@events.command("replay")
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--sink", "sink_name", required=True, help="The sink to send to (name or type).")
@click.option("--run", "run_id", type=int, help="Only events of this run.")
@_since_option
@_until_option
@_event_filters
@_state_option
def events_replay(
    config_path: Path,
    sink_name: str,
    run_id: int | None,
    since: str | None,
    until: str | None,
    event_types: tuple[str, ...],
    entity_types: tuple[str, ...],
    patterns: tuple[str, ...],
    state_path: Path | None,
) -> None:
    """Send matching events again, with their own ids, to one event sink of CONFIG; its offset
    and pending changes stay as they are."""
    from syncer import eventlog
    from syncer.sinks.eventsink import EventSink, replay
    from syncer.steps import SinkContext

    if since is None and run_id is None:
        raise ConfigError("say what to replay: --since TIME, --run N, or both")
    wanted = _event_filter(event_types, entity_types, patterns)
    loaded = configs.load(config_path, state_override=state_path)
    loaded.source.close()  # a replay reads the state, never the source
    sinks = dict(loaded.sinks)
    sink = sinks.get(sink_name)
    if sink is None:
        names = ", ".join(sinks) or "none"
        raise ConfigError(f"{config_path}: no sink named {sink_name!r} (it has: {names})")
    if not isinstance(sink, EventSink):
        raise ConfigError(
            f"{config_path}: sink {sink_name!r} does not send events; replay sends to "
            "webhook, handler, mqtt and nats sinks"
        )
    workflow = loaded.spec.workflow
    selection = eventlog.Selection(
        workflow=workflow, run_id=run_id, since=_time(since), until=_time(until), filter=wanted
    )
    store = StateStore.open(
        loaded.state_path, read_only=True, memory_limit=loaded.spec.state.memory_limit
    )
    try:
        selected = eventlog.select(store.connection, selection)
        report = replay(sink, SinkContext(workflow, store), [s.change for s in selected])
    finally:
        store.close()
    line = f"replayed to sink {sink_name}: {report.sent} sent, {len(report.refused)} refused"
    if report.skipped:
        line += f", {report.skipped} left out by the sink's filter"
    _out.print(line, markup=False)
    for seq, refusal in report.refused.items():
        _err.print(f"refused seq {seq}: {redact(refusal.reason)}", markup=False)
    if report.refused:
        sys.exit(1)


@events.command("retry")
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--sink", "sink_name", help="Only this sink's dead letters (name or type).")
@click.option("--seq", "seqs", type=int, multiple=True, help="Only this change; repeatable.")
@_state_option
def events_retry(
    config_path: Path, sink_name: str | None, seqs: tuple[int, ...], state_path: Path | None
) -> None:
    """Revive dead letters of CONFIG's workflow: the next `syncer run` offers them again."""
    spec = configs.parse(config_path, configs.read_yaml(config_path))
    names = [s.name or s.type for s in spec.sinks]
    if sink_name is not None and sink_name not in names:
        raise ConfigError(
            f"{config_path}: no sink named {sink_name!r} (it has: {', '.join(names) or 'none'})"
        )
    with _workflow_store("retry", spec.workflow, state_path, config_path) as (workflow, _, store):
        count = store.revive(workflow, sink_name, seqs)
    of_sink = f" of sink {sink_name}" if sink_name else ""
    if count:
        _out.print(
            f"{count} dead letters{of_sink} of {workflow} revived: the next `syncer run` "
            "offers them again",
            markup=False,
        )
    else:
        _out.print(f"no dead letters{of_sink} of {workflow} to retry", markup=False)


def _time(text: str | None) -> datetime | None:
    from syncer import eventlog

    return eventlog.parse_time(text) if text is not None else None


def _event_filter(
    event_types: Sequence[str], entity_types: Sequence[str], patterns: Sequence[str]
) -> Any:
    from pydantic import ValidationError

    from syncer.events import EventFilter

    try:
        return EventFilter.model_validate(
            {
                "event_types": list(event_types),
                "entity_types": list(entity_types),
                "fqn": list(patterns),
            }
        )
    except ValidationError as exc:
        problem = exc.errors(include_url=False, include_input=False)[0]
        option = {"event_types": "--type", "entity_types": "--entity-type"}.get(
            str(problem["loc"][0]), "--fqn"
        )
        raise ConfigError(f"{option}: {problem['msg'].removeprefix('Value error, ')}") from None


def _print_events(selected: Sequence[Any], fmt: str, failed: bool) -> None:
    from syncer.events import build_event

    items: list[dict[str, Any]] = []
    for chosen in selected:
        event = build_event(chosen.change, chosen.history)
        dead = chosen.dead
        if dead is None:
            items.append(event)
        else:
            items.append(
                {
                    "sink": dead.sink,
                    "attempts": dead.attempts,
                    "lastError": dead.last_error,
                    "deadAt": dead.dead_at,
                    "event": event,
                }
            )
    if fmt == "json":
        sys.stdout.write(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if fmt == "jsonl":
        sys.stdout.writelines(orjson.dumps(item).decode() + "\n" for item in items)
        return
    columns = ["seq", "committed (UTC)", "event", "entity type", "fqn", "version", "fields"]
    if failed:
        columns += ["sink", "attempts", "last error"]
    rows: list[tuple[Any, ...]] = []
    for chosen, item in zip(selected, items, strict=True):
        event = item.get("event", item)
        stamp = event.get("timestamp")
        when = (
            datetime.fromtimestamp(stamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if stamp else ""
        )
        row: tuple[Any, ...] = (
            chosen.change.seq,
            when,
            event["eventType"],
            event["entityType"],
            event["entityFullyQualifiedName"],
            event.get("currentVersion"),
            ", ".join(chosen.change.changed_fields),
        )
        if failed:
            row += (item["sink"], item["attempts"], item["lastError"])
        rows.append(row)
    _emit(columns, rows, "table")


@cli.command()
def connectors() -> None:
    """List the installed sources, processors and sinks."""
    for kind in ("sources", "processors", "sinks"):
        for name, target in sorted(plugins.available(kind).items()):
            _out.print(f"{kind[:-1]:<10} {name:<12} {target}", markup=False)


def main() -> None:
    cli(prog_name="syncer")


# --- helpers ------------------------------------------------------------------------------------


def _load(
    config_path: Path, state_path: Path | None, fail_safe: float | None
) -> configs.LoadedConfig:
    loaded = configs.load(config_path, state_override=state_path)
    if fail_safe is not None:
        loaded.spec.deletions.fail_safe_percent = fail_safe
    return loaded


def _config_workflow(config_path: Path | None) -> str | None:
    if config_path is None:
        return None
    return configs.parse(config_path, configs.read_yaml(config_path)).workflow


def _state_path(state_path: Path | None, config_path: Path | None) -> Path:
    if state_path is not None:
        return state_path
    if config_path is not None:
        return configs.parse(config_path, configs.read_yaml(config_path)).state.path
    return configs.DEFAULT_STATE_PATH


@contextmanager
def _workflow_store(
    verb: str, workflow: str | None, state_path: Path | None, config_path: Path | None
) -> Iterator[tuple[str, Path, StateStore]]:
    """The state file opened for writing, and a workflow it is known to hold."""
    workflow = workflow or _config_workflow(config_path)
    if workflow is None:
        raise ConfigError(f"name the workflow to {verb}, or pass --config CONFIG")
    path = _state_path(state_path, config_path)
    if not path.exists():
        raise StateError(f"no state file at {path}: nothing to {verb}")
    store = StateStore.open(path)
    try:
        known = store.workflows()
        if workflow not in known:
            names = ", ".join(known) or "none"
            raise ConfigError(f"{path} has no workflow {workflow!r} (it has: {names})")
        yield workflow, path, store
    finally:
        store.close()


@contextmanager
def _reader(state_path: Path | None, config_path: Path | None) -> Iterator[StateStore]:
    store = StateStore.open(_state_path(state_path, config_path), read_only=True)
    try:
        yield store
    finally:
        store.close()


def _query(store: StateStore, query: str, params: Sequence[Any], fmt: OutputFormat) -> None:
    import duckdb

    try:
        result = store.connection.execute(query, list(params))
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
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
    _emit(columns, rows, fmt)


def _parse_json_cells(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    cells = list(row)
    for i in positions:
        if isinstance(cells[i], str):
            cells[i] = orjson.Fragment(cells[i])
    return tuple(cells)


def _emit(columns: list[str], rows: list[tuple[Any, ...]], fmt: OutputFormat) -> None:
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
        _out.print(table)


def _print_backlog(store: StateStore, workflow: str | None) -> None:
    """Changes a sink never got to see because it was down: they are pending too."""
    rows = store.connection.execute(
        "SELECT workflow, sink, backlog FROM sink_backlog WHERE backlog > 0 "
        "AND (? IS NULL OR workflow = ?) ORDER BY ALL",
        [workflow, workflow],
    ).fetchall()
    for flow, sink, backlog in rows:
        _out.print(
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
def _progress() -> Iterator[Any]:
    if not _err.is_terminal:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task("starting")

        def update(stream: str, scanned: int) -> None:
            bar.update(task, description=f"{stream}: {scanned:,} read")

        yield update


def _print_result(result: RunResult, workflow: str, planned: bool = False) -> None:
    title = "plan" if planned else f"run {result.run_id}"
    table = RichTable(title=f"{workflow} {title}: {result.status}", title_justify="left")
    names = ["stream", *result.counters.as_dict()]
    for name in names:
        table.add_column(name, justify="left" if name == "stream" else "right")
    for stream, counters in [*result.streams.items(), ("total", result.counters)]:
        table.add_row(stream, *(str(v) for v in counters.as_dict().values()))
    _out.print(table)
    if result.violations:
        counts = Counter(v.action for v in result.violations)
        summary = ", ".join(f"{counts[a]} {a}" for a in ("fail", "drop", "warn") if counts[a])
        hint = "" if planned else f" (see `syncer violations --run {result.run_id}`)"
        _out.print(f"rules broken: {summary}{hint}", markup=False)
    for report in result.deliveries:
        line = f"sink {report.sink}: {report.delivered} delivered"
        if report.refused:
            line += f", {report.refused} refused (see `syncer changes --pending`)"
        if report.error:
            line += f"; FAILED: {report.error}; {report.backlog} changes wait for the next run"
        _out.print(line, markup=False)
    # Warnings were logged as they happened; a failed run still ends on one plain error line,
    # like every other command that fails.
    if result.status == "failed" and result.error:
        _err.print(f"error: {result.error}", markup=False)
