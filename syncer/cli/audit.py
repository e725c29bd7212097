"""Commands that read or maintain the state: history, changes, violations, sql, state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from state.schema import VIEWS
from syncer import config as configs
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
from syncer.cli.output import print_backlog, print_query
from syncer.errors import ConfigError
from syncer.sinks.duckdb_catalog import DuckDBCatalogConfig, DuckDBCatalogSink
from syncer.steps import Sink
from syncer.text import first_line


@cli.command()
@state_option
@config_option
@click.option("--workflow", help="Only this workflow.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@format_option
def history(
    state_path: Path | None,
    config_path: Path | None,
    workflow: str | None,
    limit: int,
    fmt: OutputFormat,
) -> None:
    """List recent runs with their counters."""
    workflow = workflow or config_workflow(config_path)
    where, params = ("WHERE workflow = ?", [workflow]) if workflow else ("", [])
    with reader(state_path, config_path) as store:
        print_query(
            store,
            f"SELECT * FROM run_summary {where} ORDER BY run_id DESC LIMIT ?",
            [*params, limit],
            fmt,
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
        print_query(store, sql, params, fmt)


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
    """List committed changes, newest first."""
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
        sql = f"SELECT * FROM pending_changes {where} ORDER BY seq LIMIT ?"
    else:
        sql = (
            f"SELECT seq, run_id, workflow, kind, entity_type, fqn, changed_fields "
            f"FROM change_log {where} ORDER BY seq DESC LIMIT ?"
        )
    with reader(state_path, config_path) as store:
        print_query(store, sql, [*params, limit], fmt)
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
    """Inspect or reset the state file."""


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
        print_query(
            store,
            "SELECT workflow, stream, cursor_field, value, run_id FROM watermarks ORDER BY ALL",
            [],
            "table",
        )
        print_query(store, "SELECT * FROM sink_backlog ORDER BY ALL", [], "table")
        for name, about in VIEWS.items():
            out.print(f"view {name}: {about}", markup=False)


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
@state_option
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def state_reset(
    workflow: str | None, state_path: Path | None, config_path: Path | None, yes: bool
) -> None:
    """Forget WORKFLOW's history (default: --config's workflow); its next run starts afresh.

    The sinks that write into the state file (the embedded catalog) forget it too: --config's,
    or without it the embedded catalog in its default schema."""
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
