"""Commands that run a workflow: run, plan, test-connection, connectors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syncer import config as configs
from syncer import interrupts, plugins
from syncer.cli.app import cli, err, fail_safe_option, load, out, state_option
from syncer.cli.output import print_result, progress_line
from syncer.secrets import redact
from syncer.statefile import open_state
from syncer.steps import Sink, Source
from syncer.workflow import Workflow

allow_deletions_option = click.option(
    "--allow-deletions",
    is_flag=True,
    help="Delete, in this run, what the source cannot tell dropped from hidden (a database "
    "whose access may have been revoked): deletions.unverifiable: delete.",
)


@cli.command()
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--full-refresh", is_flag=True, help="Ignore watermarks and read everything.")
@fail_safe_option
@allow_deletions_option
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 from a partial run (records failed, a sink refused changes or was down); "
    "it is still recorded partial.",
)
@state_option
def run(
    config_path: Path,
    full_refresh: bool,
    fail_safe: float | None,
    allow_deletions: bool,
    allow_partial: bool,
    state_path: Path | None,
) -> None:
    """Sync CONFIG: extract, diff, commit, deliver to every sink."""
    loaded = load(config_path, state_path, fail_safe)
    if allow_deletions:
        loaded.spec.deletions.unverifiable = "delete"
    # SIGTERM (timeout, systemd, Kubernetes) stops a run as Ctrl-C does; the exit code tells
    # them apart: 130 for SIGINT, 143 for SIGTERM.
    with interrupts.stopping():
        try:
            store = open_state(loaded.state_path, memory_limit=loaded.spec.state.memory_limit)
            try:
                with progress_line() as progress:
                    workflow = Workflow(loaded, store, full_refresh=full_refresh, progress=progress)
                    result = workflow.run()
            finally:
                store.close()
        except KeyboardInterrupt:
            err.print(
                f"{interrupts.reason()}: committed batches are kept; the next run carries on "
                "from them"
            )
            sys.exit(interrupts.exit_code())
    print_result(result, loaded.spec.workflow)
    if result.status == "failed":
        sys.exit(1)
    # One rule for every cause of a partial run: failed records, a sink down, refused changes.
    if result.status == "partial" and not allow_partial:
        err.print("the run is partial: exit 1 (--allow-partial exits 0)", markup=False)
        sys.exit(1)


@cli.command()
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--full-refresh", is_flag=True, help="Plan as if watermarks were reset.")
@fail_safe_option
@allow_deletions_option
@state_option
def plan(
    config_path: Path,
    full_refresh: bool,
    fail_safe: float | None,
    allow_deletions: bool,
    state_path: Path | None,
) -> None:
    """Show what a run of CONFIG would create, update and delete; writes nothing."""
    loaded = load(config_path, state_path, fail_safe)
    if allow_deletions:
        loaded.spec.deletions.unverifiable = "delete"
    path = loaded.state_path
    store = open_state(
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
        out.print(f"{change.kind:<9} {change.entity_type:<15} {change.key}{fields}", markup=False)
    print_result(result, loaded.spec.workflow, planned=True)
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
            out.print(f"{mark} {label}{check}: {redact(detail)}")
    if not ok:
        sys.exit(1)


@cli.command()
def connectors() -> None:
    """List the installed sources, processors and sinks."""
    for kind in ("sources", "processors", "sinks"):
        for name, target in sorted(plugins.available(kind).items()):
            out.print(f"{kind[:-1]:<10} {name:<12} {target}", markup=False)
