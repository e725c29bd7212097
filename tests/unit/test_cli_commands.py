"""The command line loads a command's module only when the command is asked for; the table
that says where each command lives must name every command, and name it right."""

from __future__ import annotations

import importlib
import subprocess
import sys

from syncer.cli.app import COMMANDS, cli


def test_every_command_is_listed_where_its_module_defines_it() -> None:
    for module in {m for modules in COMMANDS.values() for m in modules}:
        importlib.import_module(f"syncer.cli.{module}")

    assert sorted(cli.commands) == sorted(COMMANDS)
    for name, command in cli.commands.items():
        defined_in = (command.callback.__module__ if command.callback else "").rsplit(".", 1)[-1]
        assert defined_in in COMMANDS[name], f"{name} is defined in syncer.cli.{defined_in}"


def test_the_version_needs_none_of_the_commands_modules() -> None:
    probe = (
        "import sys; from syncer.cli import cli\n"
        "try:\n    cli(['--version'], prog_name='syncer')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('syncer.cli.', 'sqlalchemy'))))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert shown.splitlines()[0].startswith("syncer ")
    assert shown.splitlines()[-1] == "['syncer.cli.app']"
