"""`syncer state check` and `syncer state backup`: is the state file whole, and a copy of it.

Both fail at once, with exit code 2, while a run writes the file (its lock), and on a file that
is not a state file or is damaged.
"""

from __future__ import annotations

from pathlib import Path

import click

from syncer import state as states
from syncer.cli.app import config_option, existing_state_file, out, state_option
from syncer.cli.audit import state


@state.command("check")
@state_option
@config_option
def state_check(state_path: Path | None, config_path: Path | None) -> None:
    """Read every table of the state file in full: OK (exit 0), or damaged (exit 2)."""
    report = states.check(existing_state_file(state_path, config_path))
    out.print(
        f"state file {report.path}: OK (schema {report.schema_version}; {report.tables} tables, "
        f"{report.rows} rows read)",
        markup=False,
    )


@state.command("backup")
@click.argument("target", metavar="PATH", type=click.Path(path_type=Path))
@state_option
@config_option
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def state_backup(
    target: Path, state_path: Path | None, config_path: Path | None, force: bool
) -> None:
    """Copy the state file to PATH while no run writes it, and check the copy.

    Takes the state's lock (a running sync makes it fail at once), folds DuckDB's write-ahead
    log into the file, copies it, and checks that the copy reads whole before it takes PATH's
    place. Open the copy with --state PATH, or put it back in place of a damaged file."""
    source = existing_state_file(state_path, config_path, doing=": nothing to back up")
    report = states.backup(source, target, force=force)
    out.print(
        f"backed up {source} to {report.path} (schema {report.schema_version}; "
        f"{report.tables} tables, {report.rows} rows; the copy checks OK)",
        markup=False,
    )
