"""Commands that run a workflow: run, plan, test-connection."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import click

from syncer import config as configs
from syncer import interrupts, metrics
from syncer import logging as logs
from syncer.cli.app import (
    cli,
    err,
    fail_safe_option,
    load,
    open_run_state,
    out,
    state_option,
)
from syncer.cli.output import print_document, print_result, progress_line
from syncer.errors import Expected
from syncer.results import Outcome, RunResult, outcome, run_document
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


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: one document at the end on stdout (syncer/schemas/run.schema.json).",
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
@click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 when deletions were refused (the fail-safe, or ones the source cannot "
    "verify); the run's status stays what it is.",
)
@format_option
@click.option(
    "--quiet",
    is_flag=True,
    help="Print nothing when the run exits 0 (for cron); otherwise what went wrong.",
)
@state_option
def run(
    config_path: Path,
    full_refresh: bool,
    fail_safe: float | None,
    allow_deletions: bool,
    allow_partial: bool,
    strict: bool,
    fmt: Literal["table", "json"],
    quiet: bool,
    state_path: Path | None,
) -> None:
    """Sync CONFIG: extract, diff, commit, deliver to every sink.

    Exit codes: 0 all streams and sinks fine; 1 the run failed or is partial (unless
    --allow-partial), or deletions were refused with --strict; 2 a bad command line, config
    or state file; 130/143 interrupted by SIGINT/SIGTERM."""
    loaded = load(config_path, state_path, fail_safe)
    if allow_deletions:
        loaded.spec.deletions.unverifiable = "delete"
    if quiet:
        logs.only_errors()
    name = loaded.spec.workflow
    workflow: Workflow | None = None
    # SIGTERM (timeout, systemd, Kubernetes) stops a run as Ctrl-C does; the exit code tells
    # them apart: 130 for SIGINT, 143 for SIGTERM.
    started_at = time.time()
    with interrupts.stopping():
        try:
            with _silenced(quiet):
                store = open_run_state(loaded)
                try:
                    with progress_line(enabled=fmt == "table" and not quiet) as progress:
                        workflow = Workflow(
                            loaded, store, full_refresh=full_refresh, progress=progress
                        )
                        result = workflow.run()
                finally:
                    store.close()
        except KeyboardInterrupt:
            metrics.publish(loaded.spec.metrics, name, "interrupted", started_at)
            err.print(
                f"{interrupts.reason()}: committed batches are kept; the next run carries on "
                "from them"
            )
            code = interrupts.exit_code()
            if workflow is not None and workflow.run_id:
                workflow.result.status = "interrupted"
                _report(workflow.result, name, Outcome(code), started_at, fmt=fmt, quiet=quiet)
            sys.exit(code)
        except Exception as exc:  # the state file stopped the run; its error is reported as before
            metrics.publish(loaded.spec.metrics, name, "failed", started_at)
            if isinstance(exc, Expected) and workflow is not None and workflow.run_id:
                workflow.result.status = "failed"
                workflow.result.error = workflow.result.error or redact(str(exc))
                ended = Outcome(exc.exit_code)
                _report(workflow.result, name, ended, started_at, fmt=fmt, quiet=quiet, raised=True)
            raise
    ended = outcome(result, allow_partial=allow_partial, strict=strict)
    _report(result, name, ended, started_at, fmt=fmt, quiet=quiet)
    metrics.publish(loaded.spec.metrics, name, result, started_at)
    if ended.exit_code:
        sys.exit(ended.exit_code)


@cli.command()
@click.argument("config_path", type=click.Path(path_type=Path))
@click.option("--full-refresh", is_flag=True, help="Plan as if watermarks were reset.")
@fail_safe_option
@allow_deletions_option
@format_option
@state_option
def plan(
    config_path: Path,
    full_refresh: bool,
    fail_safe: float | None,
    allow_deletions: bool,
    fmt: Literal["table", "json"],
    state_path: Path | None,
) -> None:
    """Show what a run of CONFIG would create, update and delete; writes nothing."""
    loaded = load(config_path, state_path, fail_safe)
    if allow_deletions:
        loaded.spec.deletions.unverifiable = "delete"
    path = loaded.state_path
    started_at = time.time()
    store = open_state(
        path if path.exists() else ":memory:",
        read_only=path.exists(),
        memory_limit=loaded.spec.state.memory_limit,
    )
    try:
        result = Workflow(loaded, store, full_refresh=full_refresh, dry_run=True).run()
    finally:
        store.close()
    ended = Outcome(1 if result.status == "failed" else 0)
    _report(result, loaded.spec.workflow, ended, started_at, fmt=fmt, planned=True)
    if ended.exit_code:
        sys.exit(ended.exit_code)


def _report(
    result: RunResult,
    workflow: str,
    ended: Outcome,
    started_at: float,
    *,
    fmt: Literal["table", "json"],
    quiet: bool = False,
    planned: bool = False,
    raised: bool = False,
) -> None:
    """How a run or plan ended: its summary or document on stdout, what went wrong on stderr,
    and the `run finished` log event; with `quiet`, nothing at all when it exits 0. A run that
    `raised` (the state file stopped it) has its document and event; the command's error
    handler prints its error."""
    ok = ended.exit_code == 0
    if quiet and ok:
        return
    document = run_document(
        result,
        workflow,
        exit_code=ended.exit_code,
        started_at=datetime.fromtimestamp(started_at, UTC),
        ended_at=datetime.now(UTC),
        planned=planned,
    )
    if fmt == "json":
        print_document(document)
        if result.status == "failed" and result.error and not raised:
            err.print(f"error: {result.error}", markup=False)
    elif not raised:
        for change in result.planned:
            fields = f"  ({', '.join(change.changed_fields)})" if change.changed_fields else ""
            line = f"{change.kind:<9} {change.entity_type:<15} {change.key}{fields}"
            out.print(line, markup=False)
        print_result(result, workflow, planned=planned)
    if quiet:  # the log showed errors only: the warnings tell what led to the failure
        for warning in result.warnings:
            err.print(f"warning: {redact(warning)}", markup=False)
    if ended.reason:
        err.print(ended.reason, markup=False)
    logs.run_finished(document, ok=ok)


@contextmanager
def _silenced(quiet: bool) -> Iterator[None]:
    """With --quiet, nothing printed while the run goes (such as a new state file's path);
    an error raised stops the silence before it is reported."""
    if not quiet:
        yield
        return
    err.quiet = True
    try:
        yield
    finally:
        err.quiet = False


@cli.command("test-connection")
@click.argument("config_path", type=click.Path(path_type=Path))
def test_connection(config_path: Path) -> None:
    """Check that CONFIG's source can be read and each sink can be written."""
    from syncer.http import single_try  # an HTTP client only where a step is one

    loaded = configs.load(config_path)
    # The source's checks are printed as they are; each sink's are prefixed with its name.
    steps: list[tuple[str, Source | Sink]] = [("", loaded.source)]
    steps += [(f"sink {name}: ", sink) for name, sink in loaded.sinks]
    ok = True
    for label, step in steps:
        try:
            # Once, connecting for 5 s: a server that is down is told at once, not after retries.
            with single_try():
                report = step.test_connection()
        finally:
            step.close()
        ok = ok and report.ok
        for check, passed, detail in report.checks:
            mark = "[green]ok[/green]  " if passed else "[red]FAIL[/red]"
            out.print(f"{mark} {label}{check}: {redact(detail)}")
    if not ok:
        sys.exit(1)
