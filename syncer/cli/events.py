"""`syncer events`: list change events, replay them to a sink, revive dead letters."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from syncer import config as configs
from syncer.cli.app import (
    cli,
    config_option,
    config_workflow,
    err,
    out,
    reader,
    state_option,
    workflow_store,
)
from syncer.cli.output import emit, print_json
from syncer.errors import ConfigError
from syncer.secrets import redact
from syncer.state import Selected, Selection

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
@state_option
@config_option
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
    """List the change events of the change log: the latest (--limit), oldest first, as
    `syncer changes` does; `replay` sends them again, `retry` revives dead letters."""
    if ctx.invoked_subcommand is not None:
        return
    from syncer.events import event_selection

    if sink_name is not None and not failed:
        raise ConfigError("--sink goes with --failed: it names the sink whose dead letters to list")
    selection = event_selection(
        _event_filter(event_types, entity_types, patterns),
        Selection(
            workflow=config_workflow(config_path),
            run_id=run_id,
            since=_time(since),
            until=_time(until),
            failed=failed,
            sink=sink_name,
            limit=limit,
        ),
    )
    with reader(state_path, config_path) as store:
        selected = store.changelog.select(selection)
    _print_events(selected, fmt, failed)


@events.command("replay")
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--sink", "sink_name", required=True, help="The sink to send to (name or type).")
@click.option("--run", "run_id", type=int, help="Only events of this run.")
@_since_option
@_until_option
@_event_filters
@state_option
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
    from syncer.events import event_selection
    from syncer.sinks.eventsink import EventSink, replay
    from syncer.statefile import open_state
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
    selection = event_selection(
        wanted, Selection(workflow=workflow, run_id=run_id, since=_time(since), until=_time(until))
    )
    store = open_state(
        loaded.state_path, read_only=True, memory_limit=loaded.spec.state.memory_limit
    )
    try:
        selected = store.changelog.select(selection)
        report = replay(sink, SinkContext(workflow, store.changelog), [s.change for s in selected])
    finally:
        store.close()
    line = f"replayed to sink {sink_name}: {report.sent} sent, {len(report.refused)} refused"
    if report.skipped:
        line += f", {report.skipped} left out by the sink's filter"
    out.print(line, markup=False)
    for seq, refusal in report.refused.items():
        err.print(f"refused seq {seq}: {redact(refusal.reason)}", markup=False)
    if report.refused:
        sys.exit(1)


@events.command("retry")
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--sink", "sink_name", help="Only this sink's dead letters (name or type).")
@click.option("--seq", "seqs", type=int, multiple=True, help="Only this change; repeatable.")
@state_option
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
    with workflow_store("retry", spec.workflow, state_path, config_path) as (workflow, _, store):
        count = store.revive(workflow, sink_name, seqs)
    of_sink = f" of sink {sink_name}" if sink_name else ""
    if count:
        out.print(
            f"{count} dead letters{of_sink} of {workflow} revived: the next `syncer run` "
            "offers them again",
            markup=False,
        )
    else:
        out.print(f"no dead letters{of_sink} of {workflow} to retry", markup=False)


def _time(text: str | None) -> datetime | None:
    from syncer.events import parse_time

    return parse_time(text) if text is not None else None


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


def _print_events(selected: Sequence[Selected], fmt: str, failed: bool) -> None:
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
    if fmt in ("json", "jsonl"):
        print_json(items, lines=fmt == "jsonl")
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
    emit(columns, rows, "table", empty="no dead letters" if failed else "no events")
