"""Commands that describe and check configuration, offline: schema, connectors, validate."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Literal

import click

from syncer import plugins, schema
from syncer.cli.app import cli, err, out
from syncer.cli.output import emit, print_json
from syncer.errors import ConfigError
from syncer.secrets import redact

# How a STEP may name its kind: `sources/sql` or `source/sql`.
_KINDS: dict[str, schema.StepKind] = {
    **{kind: kind for kind in schema.STEP_KINDS},
    **{kind[:-1]: kind for kind in schema.STEP_KINDS},
}


@cli.command("schema")
@click.argument("step", required=False)
@click.option(
    "--builtin",
    is_flag=True,
    help="Only syncer's own steps, as syncer/schemas/workflow.schema.json has them.",
)
def schema_command(step: str | None, builtin: bool) -> None:
    """Print the JSON Schema of a workflow file, or with STEP (sources/sql, or sql when no
    other kind has a step of that name) the schema of that step's config.

    Editors check and complete a workflow file against it: in VS Code (the YAML extension),
    start the file with `# yaml-language-server: $schema=PATH`."""
    if step is None:
        print_json(schema.workflow_schema(builtin=builtin))
        return
    kind, name = _step(step)
    print_json(schema.step_schema(kind, name))


@cli.command()
@click.argument("name", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: one array of keys (name, type, default, required, description, secret).",
)
def connectors(name: str | None, fmt: Literal["table", "json"]) -> None:
    """List the installed sources, processors and sinks; with NAME (sql, or sinks/jsonl), the
    keys of that step's config: type, default, whether it is a secret, what it does."""
    if name is None:
        _list_installed(fmt)
        return
    keys = schema.config_keys(*_step(name))
    if fmt == "json":
        print_json([dataclasses.asdict(key) for key in keys])
        return
    rows = [
        (
            key.name,
            key.type,
            "required" if key.required else key.default,
            "secret" if key.secret else "",
            key.description,
        )
        for key in keys
    ]
    emit(["key", "type", "default", "secret", "description"], rows, "table")


def _list_installed(fmt: Literal["table", "json"]) -> None:
    found = [
        (kind[:-1], name, target)
        for kind in schema.STEP_KINDS
        for name, target in sorted(plugins.available(kind).items())
    ]
    if fmt == "json":
        print_json([{"kind": k, "name": n, "target": t} for k, n, t in found])
        return
    for kind, name, target in found:
        out.print(f"{kind:<10} {name:<12} {target}", markup=False)


@cli.command()
@click.argument("config_paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(config_paths: tuple[Path, ...]) -> None:
    """Check each CONFIG offline, with the messages a run would give: its keys and their
    types, step types, and that no credential is written in the file. Nothing is connected
    to and no secret is looked up: a ${env:NAME} that is not set is not an error here.

    Exit codes: 0 every CONFIG is valid; 2 one is not."""
    from syncer import config as configs

    failed = False
    for path in config_paths:
        try:
            spec = configs.validate(path)
        except ConfigError as exc:
            failed = True
            err.print(f"error: {redact(str(exc))}", markup=False)
            continue
        out.print(f"{path}: valid (workflow {spec.workflow})", markup=False)
    if failed:
        sys.exit(ConfigError.exit_code)


def _step(text: str) -> tuple[schema.StepKind, str]:
    """`sources/sql`, `source/sql` or `sql` (when only one kind has a step of that name)."""
    if "/" in text:
        kind, _, name = text.partition("/")
        if kind not in _KINDS:
            raise ConfigError(
                f"{text}: {kind!r} is not a kind of step; write sources/NAME, "
                "processors/NAME or sinks/NAME"
            )
        return _KINDS[kind], name
    kinds = [kind for kind in schema.STEP_KINDS if text in plugins.available(kind)]
    if len(kinds) == 1:
        return kinds[0], text
    if kinds:
        choices = " or ".join(f"{kind}/{text}" for kind in kinds)
        raise ConfigError(f"{text} is the name of several steps: write {choices}")
    installed = ", ".join(
        f"{kind}/{name}" for kind in schema.STEP_KINDS for name in sorted(plugins.available(kind))
    )
    raise ConfigError(
        f"no installed step is named {text!r}; installed are {installed} "
        "(`syncer connectors` lists them)"
    )
