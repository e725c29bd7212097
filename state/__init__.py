"""The state: one DuckDB file of runs, watermarks, entity rows, the change log and deliveries.

A storage layer. It knows rows (keys, fingerprints, dependency lists, payload text, offsets),
not entities, and imports nothing from the engine (`syncer`) or the connectors: what an
entity's payload means and which keys it depends on is computed by the engine and handed in.

    store        StateStore, the facade the engine uses
    connection   opening, migrations, DuckDB errors made clear
    runs         runs, per-stream counters, violations, watermarks
    entities     fingerprints, what a run did not see, commits, dependencies
    changelog    the change log read back; what sinks are handed (LogReader, StagingArea)
    history      time travel: an entity or every entity as of a run, what changed between runs
    deliveries   sink offsets, refusals, dead letters
    maintenance  prune, reset, id high-water marks
    integrity    a file checked for damage (every table read), and backed up consistently
    spool        scratch space for rows that must wait
"""

from __future__ import annotations

from syncer.state.changelog import DeadLetter, LogReader, RowMatch, Selected, Selection, StagingArea
from syncer.state.connection import MEMORY, interrupted, scanning, state_error
from syncer.state.errors import StateDamagedError, StateDiskFullError, StateError, StateLockedError
from syncer.state.integrity import CheckReport, backup, check
from syncer.state.records import Change, ChangeBatch, ChangeKind, Counters, History
from syncer.state.rows import (
    Batch,
    ChangeRow,
    DependencyRow,
    Known,
    Missing,
    ViolationRow,
    Watermark,
)
from syncer.state.schema import SCHEMA_VERSION, VIEWS
from syncer.state.store import StateStore

__all__ = [
    "MEMORY",
    "SCHEMA_VERSION",
    "VIEWS",
    "Batch",
    "Change",
    "ChangeBatch",
    "ChangeKind",
    "ChangeRow",
    "CheckReport",
    "Counters",
    "DeadLetter",
    "DependencyRow",
    "History",
    "Known",
    "LogReader",
    "Missing",
    "RowMatch",
    "Selected",
    "Selection",
    "StagingArea",
    "StateDamagedError",
    "StateDiskFullError",
    "StateError",
    "StateLockedError",
    "StateStore",
    "ViolationRow",
    "Watermark",
    "backup",
    "check",
    "interrupted",
    "scanning",
    "state_error",
]
