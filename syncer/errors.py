"""Errors, grouped by what the caller should do about them.

    SyncerError
    ├── ConfigError        the user must fix the config or command line (exit 2)
    │   └── SecretError    a secret reference cannot be resolved
    ├── StateError         the state file cannot be used as it is (exit 2)
    │   └── StateLockedError  another process is writing the same state file
    ├── SourceError        the source cannot be reached or read at all (exit 1)
    ├── PolicyError        entities broke rules whose action is `fail` (exit 1)
    └── SinkError          a sink cannot be reached; its backlog waits for the next run

Record-level problems are not exceptions: sources and processors return a `RecordError`
so that one bad record never stops a run.
"""

from __future__ import annotations


class SyncerError(Exception):
    """Base of every error syncer raises on purpose; `str()` is one line that says what to do."""

    exit_code = 1


class ConfigError(SyncerError):
    exit_code = 2


class SecretError(ConfigError):
    def __init__(self, reference: str, reason: str) -> None:
        self.reference = reference
        super().__init__(f"secret {reference}: {reason}")


class StateError(SyncerError):
    exit_code = 2


class StateLockedError(StateError):
    pass


class SourceError(SyncerError):
    pass


class PolicyError(SyncerError):
    pass


class SinkError(SyncerError):
    pass
