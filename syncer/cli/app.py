"""The `syncer` command group, its shared options and the helpers every command uses.

Exit codes: 0 success, 1 a failed run, 2 a bad command line, config or state file.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click
import structlog
from rich.console import Console

from syncer import __version__
from syncer import logging as logs
from syncer.errors import ConfigError, Expected, StateError
from syncer.secrets import redact

if TYPE_CHECKING:
    from syncer import config as configs
    from syncer.state import StateStore

# The module that defines each command, imported only when the command is used (or listed by
# --help): `syncer --version` and a short command do not pay for what the others import.
COMMANDS: dict[str, tuple[str, ...]] = {
    "run": ("runs",),
    "plan": ("runs",),
    "test-connection": ("runs",),
    "connectors": ("configs",),
    "schema": ("configs",),
    "validate": ("configs",),
    "history": ("audit",),
    "changes": ("audit",),
    "sql": ("audit",),
    "violations": ("audit",),
    "state": ("audit", "backups"),
    "events": ("events",),
    "fleet": ("fleet",),
    "show": ("timetravel",),
    "diff": ("timetravel",),
    "ui": ("ui",),
    "serve": ("serve",),
}

OutputFormat = Literal["table", "csv", "json", "jsonl"]
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
log = structlog.get_logger("syncer.cli")
# In pipes and logs, do not squeeze tables into 80 columns, unless COLUMNS says how wide.
if not out.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
    out.width = 200

state_option = click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    envvar="SYNCER_STATE",
    show_envvar=True,
    help="State file, relative to the current directory (default: the config's state.path, "
    "else .syncer/state.duckdb).",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="SYNCER_CONFIG",
    show_envvar=True,
    help="Workflow config whose state file and workflow name to use.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "jsonl"]),
    default="table",
    show_default=True,
    help="json: one array; jsonl: one object per line.",
)


fail_safe_option = click.option(
    "--fail-safe-percent",
    "fail_safe",
    type=click.FloatRange(0, 100),
    help="Override deletions.fail_safe_percent for this run only.",
)


class _Group(click.Group):
    """Loads each command's module when it is asked for (`COMMANDS`); turns errors into one
    masked line on stderr and the documented exit code; a bug shows its traceback only with
    --debug."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        for module in COMMANDS.get(name, ()):
            importlib.import_module(f"syncer.cli.{module}")
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Expected as exc:
            err.print(f"[red]error:[/red] {redact(str(exc))}", markup=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`syncer events | head`): nothing left to say, and Python's
            # flush at exit must not fail on the closed pipe again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
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


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`--version`: syncer's, and the state schema's, which says what state files it reads."""
    if not value or ctx.resilient_parsing:
        return
    from syncer.state import SCHEMA_VERSION

    click.echo(f"syncer {__version__} (state schema {SCHEMA_VERSION})")
    ctx.exit()


@click.group(cls=_Group)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Show the version of syncer and of its state schema, and exit.",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    envvar="SYNCER_LOG_FORMAT",
    show_envvar=True,
    help="Log lines as console text or JSON (auto: console on a terminal).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    envvar="SYNCER_LOG_LEVEL",
    show_envvar=True,
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
@click.pass_context
def cli(ctx: click.Context, log_format: logs.LogFormat, log_level: str, debug: bool) -> None:
    """Keep a metadata catalog in step with the systems it describes."""
    ctx.meta["debug"] = debug
    # As syncer.logging decides: JSON lines unless console text is asked for or stderr is a
    # terminal. A notice (a new state file) then goes out as a log event, not as text.
    ctx.meta["json_logs"] = log_format == "json" or (
        log_format == "auto" and not sys.stderr.isatty()
    )
    logs.configure(log_format, log_level)


# A run makes millions of small objects (catalog rows, keys, records) and frees almost none of
# them in cycles; with CPython's default thresholds (a young collection every 700 allocations,
# an old one every 100 young ones) the collector walks the growing heap over and over: a fifth
# of a no-change re-run's time (bench/README.md). Collections stay on, just less often.
COLLECTOR_THRESHOLDS = (50_000, 20, 100)


def main() -> None:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    # At exit the collector would walk every object the command made once more, only to free
    # memory the OS takes back anyway (80 ms after a 10,000-table run); frozen, they are not
    # walked. Finalizers and atexit hooks run as before.
    atexit.register(gc.freeze)
    cli(prog_name="syncer")


def load(
    config_path: Path, state_path: Path | None, fail_safe: float | None
) -> configs.LoadedConfig:
    from syncer import config as configs

    loaded = configs.load(config_path, state_override=state_path)
    if fail_safe is not None:
        loaded.spec.deletions.fail_safe_percent = fail_safe
    return loaded


def config_workflow(config_path: Path | None) -> str | None:
    from syncer import config as configs

    if config_path is None:
        return None
    return configs.parse(config_path, configs.read_yaml(config_path)).workflow


def state_file(state_path: Path | None, config_path: Path | None) -> Path:
    """--state as given (relative to the current directory), else the config's state.path
    (relative to the config's folder), else .syncer/state.duckdb here."""
    from syncer import config as configs

    if state_path is not None:
        return state_path
    if config_path is not None:
        return configs.parse(config_path, configs.read_yaml(config_path)).state.path
    return configs.DEFAULT_STATE_PATH


def existing_state_file(
    state_path: Path | None, config_path: Path | None, *, doing: str = ""
) -> Path:
    """The state file a read command opens; if there is none, a `StateError` listing the state
    files that are there (`.syncer/*.duckdb` beside the config and here)."""
    path = state_file(state_path, config_path)
    if path.exists():
        return path
    found = _state_files_near(path, config_path)
    what = f"no state file at {path}{doing}"
    if not found:
        raise StateError(f"{what}: run `syncer run CONFIG` first, or pass --state or --config")
    raise StateError(f"{what}; found: {', '.join(found)} — pass --state or --config")


def _state_files_near(path: Path, config_path: Path | None) -> list[str]:
    """The DuckDB files in `path`'s folder, in `.syncer/` beside the config and in `.syncer/`
    here, as the user would type them (relative to the current directory when under it)."""
    here = Path.cwd()
    folders = [path.parent, here / ".syncer"]
    if config_path is not None:
        folders.insert(1, config_path.absolute().parent / ".syncer")
    seen: dict[Path, str] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.duckdb")):
            absolute = file.resolve()
            if absolute.is_file() and absolute not in seen:
                shown = absolute.relative_to(here) if absolute.is_relative_to(here) else absolute
                seen[absolute] = str(shown)
    return list(seen.values())


def open_run_state(loaded: configs.LoadedConfig, *, announce: bool = True) -> StateStore:
    """The state file a run writes, opened; a new one is announced on stderr with its absolute
    path, so that a run that starts from nothing (another directory, a typo) is noticed."""
    from syncer.statefile import open_state

    path = loaded.state_path
    is_new = not path.exists()
    store = open_state(path, memory_limit=loaded.spec.state.memory_limit)
    if is_new and announce:
        ctx = click.get_current_context(silent=True)
        if ctx is not None and ctx.meta.get("json_logs"):
            log.warning("created a new state file", path=str(path.absolute()))
        else:
            err.print(f"created a new state file at {path.absolute()}", markup=False)
    return store


@contextmanager
def workflow_store(
    verb: str, workflow: str | None, state_path: Path | None, config_path: Path | None
) -> Iterator[tuple[str, Path, StateStore]]:
    """The state file opened for writing, and a workflow it is known to hold."""
    workflow = workflow or config_workflow(config_path)
    if workflow is None:
        raise ConfigError(f"name the workflow to {verb}, or pass --config CONFIG")
    from syncer.statefile import open_state

    path = existing_state_file(state_path, config_path, doing=f": nothing to {verb}")
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
    from syncer.statefile import open_state

    store = open_state(existing_state_file(state_path, config_path), read_only=True)
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
    from syncer.state import state_error

    translated = state_error(store.path, exc)
    if translated is not None and translated is not exc:
        raise translated from None
