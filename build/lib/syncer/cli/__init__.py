"""The `syncer` command line: run and plan workflows, audit the state, follow change events.

Each module adds its commands to the one `cli` group defined in `app`, which imports a
command's module when the command is asked for (`app.COMMANDS`).
"""

from syncer.cli.app import cli, main

__all__ = ["cli", "main"]
