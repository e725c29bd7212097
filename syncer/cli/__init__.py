"""The `syncer` command line: run and plan workflows, audit the state, follow change events.

Each module adds its commands to the one `cli` group defined in `app`.
"""

from syncer.cli import audit, backups, events, runs  # noqa: F401 - importing registers the commands
from syncer.cli.app import cli, main

__all__ = ["cli", "main"]
