"""Errors of the state store. They say what is wrong with the file and how to go on.

    StateError              the state file cannot be used as it is (exit 2)
    ├── StateLockedError    another process is writing the same state file
    ├── StateDamagedError   its blocks do not read back as written: restore it from a backup
    └── StateDiskFullError  the disk it is on is full (exit 1: the run failed, nothing was lost)

`syncer.errors` re-exports StateError and StateLockedError and draws them into the whole tree;
the CLI shows each as its one-line message with its exit code.
"""

from __future__ import annotations


class StateError(Exception):
    """The state file is missing, foreign, damaged, newer than this syncer, or not writable."""

    exit_code = 2


class StateLockedError(StateError):
    """Another process holds the state file's writer lock; wait for it or use another file."""


class StateDamagedError(StateError):
    """The file is damaged (a block's checksum does not match, it was cut short): restore it
    from a backup, or move it aside and start over."""


class StateDiskFullError(StateError):
    """No space was left on the device while writing the file. What was committed is kept, and
    the transaction that failed left nothing behind: free some space and run again."""

    exit_code = 1
