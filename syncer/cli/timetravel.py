"""Time travel on the command line: `show` an entity as it was at the end of a run (or a time),
and `diff` the state between two runs, field by field."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import click
import orjson
from rich import box
from rich.table import Table as RichTable

from syncer.cli.app import cli, config_option, config_workflow, out, reader, state_option
from syncer.cli.output import print_json
from syncer.errors import ConfigError
from syncer.state import StateStore
from syncer.state import history as past
from syncer.state.history import DifferenceKind
from syncer.timetravel import EntityDiff, diff, field_rows, to_document

Format = Literal["table", "json"]

_WHEN_HELP = (
    "a run id, or an ISO date or time (UTC unless it names an offset) or an age (30m, 2h, 3d, "
    "1w) meaning the last run that ended by then"
)
_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
_workflow_option = click.option(
    "--workflow", help="Only this workflow's entities (default: --config's, else every one)."
)
# Values longer than this are cut in a table; --format json has them whole.
_CELL = 80


@cli.command()
@click.argument("fqn")
@click.option("--as-of", "as_of", metavar="RUN|TIME", help=f"The state as of {_WHEN_HELP}.")
@_workflow_option
@state_option
@config_option
@_format_option
def show(
    fqn: str,
    as_of: str | None,
    workflow: str | None,
    state_path: Path | None,
    config_path: Path | None,
    fmt: Format,
) -> None:
    """Show entity FQN as it was at the end of a run (--as-of; default: now), and which run
    wrote that version."""
    workflow = workflow or config_workflow(config_path)
    with reader(state_path, config_path) as store:
        run = _run(store, as_of, "--as-of")
        found = past.entity_as_of(store.connection, fqn, run, workflow)
        if not found:
            raise _unknown(store, fqn, run, workflow)
        if len(found) > 1:
            held = ", ".join(f"{v.workflow} (stream {v.stream})" for v in found)
            raise ConfigError(f"{fqn} is held by {held}: pass --workflow or --config to pick one")
    _print_version(found[0], run, fmt)


def _print_version(version: past.Version, run: int | None, fmt: Format) -> None:
    moment = "now" if run is None else f"as of run {run}"
    if fmt == "json":
        print_json(
            {
                "fqn": version.key,
                "workflow": version.workflow,
                "entity_type": version.entity_type,
                "as_of_run": run,
                "run_id": version.run_id,
                "kind": version.kind,
                "deleted": not version.live,
                "committed_at": version.committed_at,
                "payload": version.payload,
            }
        )
        return
    out.print(f"{version.key} ({version.entity_type}, workflow {version.workflow})", markup=False)
    if version.live:
        line = f"{moment}: the version written by run {version.run_id} ({version.kind})"
    else:
        line = f"{moment}: deleted in run {version.run_id}; as it was last seen:"
    out.print(line, markup=False)
    print_json(version.payload)


@cli.command("diff")
@click.option("--from", "since", required=True, metavar="RUN|TIME", help=f"From {_WHEN_HELP}.")
@click.option(
    "--to", "until", metavar="RUN|TIME", help=f"To {_WHEN_HELP} (default: the latest run)."
)
@click.option("--fqn", "pattern", help="Only entities whose FQN matches this glob (* and ?).")
@_workflow_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="At most this many entities, in FQN order.",
)
@state_option
@config_option
@_format_option
def diff_command(
    since: str,
    until: str | None,
    pattern: str | None,
    workflow: str | None,
    limit: int,
    state_path: Path | None,
    config_path: Path | None,
    fmt: Format,
) -> None:
    """What changed between the end of two runs, field by field (old → new), however many
    runs came between: entities created, deleted, restored, and the fields of updated ones."""
    workflow = workflow or config_workflow(config_path)
    with reader(state_path, config_path) as store:
        first = _required_run(store, since, "--from")
        last = _latest(store) if until is None else _required_run(store, until, "--to")
        if first > last:
            raise ConfigError(
                f"--from (run {first}) is after --to (run {last}): swap them to see what changed"
            )
        page = past.changed_between(
            store.connection, first, last, workflow=workflow, pattern=pattern, limit=limit
        )
    entities = [diff(d) for d in page.items]
    if fmt == "json":
        print_json([to_document(e) for e in entities])
        return
    _print_diff(entities, first, last)
    if page.more:
        out.print(
            f"only the first {limit} entities in FQN order: pass --limit or --fqn to see more",
            markup=False,
        )


def _print_diff(entities: list[EntityDiff], first: int, last: int) -> None:
    span = f"run {first} → run {last}"
    if not entities:
        out.print(f"{span}: no differences", markup=False)
        return
    table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("change", "fqn", "field", "old", "new"):
        table.add_column(name, overflow="fold")
    for entity in entities:
        rows = field_rows(entity) or [("", None, None)]
        for field, old, new in rows:
            table.add_row(entity.kind, entity.fqn, field, _value(old), _value(new))
    out.print(table)
    counts = Counter(e.kind for e in entities)
    kinds: tuple[DifferenceKind, ...] = ("created", "restored", "updated", "deleted")
    summary = ", ".join(f"{counts[k]} {k}" for k in kinds if counts[k])
    out.print(f"{span}: {summary}", markup=False)


def _value(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


# --- runs named on the command line -----------------------------------------------------------


def _run(store: StateStore, text: str | None, option: str) -> int | None:
    """The run `text` names (a run id, or the last run that ended by a time); None: now."""
    return None if text is None else _required_run(store, text, option)


def _required_run(store: StateStore, text: str, option: str) -> int:
    from syncer.events import parse_time

    if text.strip().isdigit():
        run = int(text)
        if past.run_workflow(store.connection, run) is None:
            raise ConfigError(
                f"{option} {text}: {store.path} has no run {run} ({_span(store)}): pass one of "
                "them, or a time"
            )
        return run
    moment = parse_time(text)
    ended = past.run_ended_by(store.connection, moment)
    if ended is None:
        raise ConfigError(
            f"{option} {text}: no run of {store.path} had ended by "
            f"{moment:%Y-%m-%d %H:%M:%S %Z} ({_span(store)}): pass a later time, or a run id"
        )
    return ended


def _latest(store: StateStore) -> int:
    span = past.run_span(store.connection)
    if span is None:
        raise ConfigError(f"{store.path} holds no runs yet: run `syncer run CONFIG` first")
    return span[1]


def _span(store: StateStore) -> str:
    span = past.run_span(store.connection)
    if span is None:
        return "it holds no runs yet"
    return f"it holds runs {span[0]} to {span[1]}"


def _unknown(store: StateStore, fqn: str, run: int | None, workflow: str | None) -> ConfigError:
    """Why nothing is shown for `fqn`: it came later, or the file never held it."""
    later = past.entity_versions(store.connection, fqn, workflow, limit=1).items
    if later and run is not None:
        return ConfigError(
            f"{fqn} did not exist yet as of run {run} (its first change is in run "
            f"{later[0].run_id}): pass a later --as-of"
        )
    where = f"workflow {workflow!r} of {store.path}" if workflow else str(store.path)
    close = past.similar_keys(store.connection, fqn, workflow)
    hint = f"did you mean {' or '.join(close)}?" if close else "check the FQN"
    return ConfigError(
        f'no entity {fqn} in {where}: {hint} (`syncer sql "select fqn from current_entities"` '
        "lists them)"
    )
