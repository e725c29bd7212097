"""Errors of the state store. They say what is wrong with the file and how to go on.

    StateError            the state file cannot be used as it is (exit 2)
    └── StateLockedError  another process is writing the same state file

`syncer.errors` re-exports both and draws them into the whole tree.
"""

from __future__ import annotations


class StateError(Exception):
    """The state file is missing, foreign, damaged, newer than this syncer, or not writable."""

    exit_code = 2


class StateLockedError(StateError):
    """Another process holds the state file's writer lock; wait for it or use another file."""
