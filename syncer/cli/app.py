"""The `syncer` command group, its shared options and the helpers every command uses.

Exit codes: 0 success, 1 a failed run, 2 a bad command line, config or state file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console

from state import StateStore, state_error
from syncer import __version__
from syncer import config as configs
from syncer import logging as logs
from syncer.errors import ConfigError, Expected, StateError
from syncer.secrets import redact
from syncer.statefile import open_state

OutputFormat = Literal["table", "csv", "json"]
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
if not out.is_terminal:  # in pipes and logs, do not squeeze tables into 80 columns
    out.width = 200

state_option = click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    help="State file (default: the config's state.path, else .syncer/state.duckdb).",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Workflow config whose state file and workflow name to use.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)


fail_safe_option = click.option(
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
        except Expected as exc:
            err.print(f"[red]error:[/red] {redact(str(exc))}", markup=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if ctx.meta.get("debug"):
                raise
            first = (redact(str(exc)).splitlines() or [""])[0]
            err.print(
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


def main() -> None:
    cli(prog_name="syncer")


def load(
    config_path: Path, state_path: Path | None, fail_safe: float | None
) -> configs.LoadedConfig:
    loaded = configs.load(config_path, state_override=state_path)
    if fail_safe is not None:
        loaded.spec.deletions.fail_safe_percent = fail_safe
    return loaded


def config_workflow(config_path: Path | None) -> str | None:
    if config_path is None:
        return None
    return configs.parse(config_path, configs.read_yaml(config_path)).workflow


def state_file(state_path: Path | None, config_path: Path | None) -> Path:
    if state_path is not None:
        return state_path
    if config_path is not None:
        return configs.parse(config_path, configs.read_yaml(config_path)).state.path
    return configs.DEFAULT_STATE_PATH


@contextmanager
def workflow_store(
    verb: str, workflow: str | None, state_path: Path | None, config_path: Path | None
) -> Iterator[tuple[str, Path, StateStore]]:
    """The state file opened for writing, and a workflow it is known to hold."""
    workflow = workflow or config_workflow(config_path)
    if workflow is None:
        raise ConfigError(f"name the workflow to {verb}, or pass --config CONFIG")
    path = state_file(state_path, config_path)
    if not path.exists():
        raise StateError(f"no state file at {path}: nothing to {verb}")
    store = open_state(path)
    try:
        known = store.workflows()
        if workflow not in known:
            names = ", ".join(known) or "none"
            raise ConfigError(f"{path} has no workflow {workflow!r} (it has: {names})")
        yield workflow, path, store
    except Exception as exc:
        _about_the_file(store, exc)
        raise
    finally:
        store.close()


@contextmanager
def reader(state_path: Path | None, config_path: Path | None) -> Iterator[StateStore]:
    store = open_state(state_file(state_path, config_path), read_only=True)
    try:
        yield store
    except Exception as exc:
        _about_the_file(store, exc)
        raise
    finally:
        store.close()


def _about_the_file(store: StateStore, exc: Exception) -> None:
    """Raise a DuckDB error about the state file itself (damaged, the disk full), met by a
    command's own query, as the `StateError` that says what to do; return on any other."""
    translated = state_error(store.path, exc)
    if translated is not None and translated is not exc:
        raise translated from None
