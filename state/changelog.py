"""The change log, read: batches for delivery, the entity history of a change, and selections
of committed rows for listing and replay.

Only row terms here (kinds, entity types, keys, runs, times): which event types a selection
means is the engine's business (`syncer.events.event_selection`). Nothing here writes to the
file, so a listing or a replay can use a read-only connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from syncer.state.connection import one
from syncer.state.records import Change, ChangeBatch, ChangeKind, ChangeRows, History

# The columns of a `Change`, in its field order (payload_json follows).
CHANGE_COLUMNS = (
    "seq, run_id, workflow, stream, key, entity_type, kind, fingerprint, old_fingerprint, "
    "changed_fields"
)
# Change-log rows with the columns of `state.records.Change`, in its order; add a WHERE.
SELECT_CHANGES = (
    f"SELECT {CHANGE_COLUMNS}, payload::VARCHAR AS payload_json, "
    "description::VARCHAR AS description_json, committed_at FROM changes"
)
# When a change was committed: rows from before state v3 carry no time; their run's start does.
_WHEN = "coalesce(c.committed_at, r.started_at)"


# --- delivery ---------------------------------------------------------------------------------


def last_seq(connection: duckdb.DuckDBPyConnection, workflow: str) -> int:
    return int(
        one(
            connection.execute(
                "SELECT coalesce(max(seq), 0) FROM changes WHERE workflow = ?", [workflow]
            )
        )
    )


def changes_after(
    connection: duckdb.DuckDBPyConnection, workflow: str, offset: int, upto: int, limit: int
) -> ChangeBatch:
    """Up to `limit` changes of a workflow after `offset` and up to `upto`, in order."""
    seqs = _seqs(
        connection,
        "workflow = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
        [workflow, offset, upto, limit],
    )
    return _batch(connection, workflow, seqs)


def pending(connection: duckdb.DuckDBPyConnection, workflow: str, sink: str) -> ChangeBatch:
    """The changes a sink refused and will be offered again (dead letters are not)."""
    seqs = _seqs(
        connection,
        "workflow = ? AND seq IN (SELECT seq FROM pending_deliveries "
        "WHERE workflow = ? AND sink = ? AND dead_at IS NULL) ORDER BY seq",
        [workflow, workflow, sink],
    )
    return _batch(connection, workflow, seqs)


def dead_letters(connection: duckdb.DuckDBPyConnection, workflow: str, sink: str) -> list[int]:
    """The seqs of the changes a sink gave up on (not offered until revived), in order."""
    rows = connection.execute(
        "SELECT seq FROM pending_deliveries WHERE workflow = ? AND sink = ? "
        "AND dead_at IS NOT NULL ORDER BY seq",
        [workflow, sink],
    ).fetchall()
    return [int(row[0]) for row in rows]


def dependencies(
    connection: duckdb.DuckDBPyConnection, workflow: str, seqs: Sequence[int]
) -> dict[int, tuple[str, list[str]]]:
    """Each change's key and its entity's dependencies (the keys that must exist before it:
    a parent, a lineage edge's ends), by seq: one query for a whole page."""
    if not seqs:
        return {}
    rows = connection.execute(
        "SELECT c.seq, c.key, coalesce(e.depends_on, []) FROM changes c "
        "LEFT JOIN entities e ON e.workflow = c.workflow AND e.stream = c.stream "
        "AND e.key = c.key WHERE c.workflow = $workflow AND c.seq IN (SELECT unnest($seqs))",
        {"workflow": workflow, "seqs": list(seqs)},
    ).fetchall()
    return {int(seq): (str(key), list(depends_on)) for seq, key, depends_on in rows}


def _seqs(connection: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[int]:
    rows = connection.execute(f"SELECT seq FROM changes WHERE {where}", params).fetchall()
    return [int(row[0]) for row in rows]


def _batch(connection: duckdb.DuckDBPyConnection, workflow: str, seqs: list[int]) -> ChangeBatch:
    """The rows are read in one query, and only when a sink asks for them."""

    def load() -> ChangeRows:
        rows = connection.execute(
            f"{SELECT_CHANGES} "
            "WHERE workflow = $workflow AND seq IN (SELECT unnest($seqs)) ORDER BY seq",
            {"workflow": workflow, "seqs": seqs},
        ).fetchall()
        return ChangeRows(rows)

    return ChangeBatch(seqs, load)


def view_changes(connection: duckdb.DuckDBPyConnection, name: str, seqs: Sequence[int]) -> None:
    """A temp view `name` over the change rows with these seqs (payload as JSON, named
    `payload_json`), for a sink in this file: read where they are, nothing copied. A batch
    without gaps is a seq range (seqs are unique in the file)."""
    first, last = min(seqs), max(seqs)
    where = f"seq BETWEEN {int(first)} AND {int(last)}"
    if last - first + 1 != len(seqs):  # other workflows' changes, or some held back
        where += f" AND seq IN ({', '.join(str(int(seq)) for seq in seqs)})"
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {CHANGE_COLUMNS}, "
        f"payload AS payload_json FROM changes WHERE {where}"
    )


# --- reading back -----------------------------------------------------------------------------


def load(connection: duckdb.DuckDBPyConnection, seqs: Sequence[int]) -> list[Change]:
    """Change-log rows as the sinks receive them, in seq order."""
    if not seqs:
        return []
    rows = connection.execute(
        f"{SELECT_CHANGES} WHERE seq IN (SELECT unnest($seqs)) ORDER BY seq",
        {"seqs": list(seqs)},
    ).fetchall()
    return [Change(*row) for row in rows]


def histories(connection: duckdb.DuckDBPyConnection, seqs: Sequence[int]) -> dict[int, History]:
    """Each change's place in its entity's history (its version), and its run's start time.

    Counted over the change log as it is now: after `syncer state prune` an entity's history
    restarts from the oldest change kept.
    """
    if not seqs:
        return {}
    rows = connection.execute(
        """
        WITH wanted AS (SELECT unnest($seqs) AS seq),
        entities AS (
            SELECT DISTINCT workflow, stream, key FROM changes
            WHERE seq IN (SELECT seq FROM wanted)
        ),
        numbered AS (
            SELECT c.seq, c.run_id,
                   row_number() OVER (PARTITION BY c.workflow, c.stream, c.key ORDER BY c.seq)
                       AS ordinal
            FROM changes c JOIN entities USING (workflow, stream, key)
        )
        SELECT n.seq, n.ordinal, r.started_at
        FROM numbered n LEFT JOIN runs r USING (run_id)
        WHERE n.seq IN (SELECT seq FROM wanted)
        """,
        {"seqs": list(seqs)},
    ).fetchall()
    return {int(seq): History(int(ordinal), started) for seq, ordinal, started in rows}


# --- selections -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowMatch:
    """Change rows of one of `kinds`, of one of `entity_types`, of none of `excluded_types`;
    a field left empty does not narrow."""

    kinds: tuple[ChangeKind, ...] = ()
    entity_types: tuple[str, ...] = ()
    excluded_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Selection:
    """Which committed changes to list or replay; every condition given must hold."""

    workflow: str | None = None
    run_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    # Rows matching any of these; None selects every row, an empty tuple none.
    matches: tuple[RowMatch, ...] | None = None
    entity_types: tuple[str, ...] = ()  # one of these, if any
    key_globs: tuple[str, ...] = ()  # keys matching one of these (`*`, `?`), if any
    failed: bool = False  # only dead letters
    sink: str | None = None  # with `failed`: only this sink's
    limit: int | None = None  # the most recent N


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A sink that gave up on a change, and why."""

    sink: str
    attempts: int
    last_error: str
    dead_at: datetime


@dataclass(frozen=True, slots=True)
class Selected:
    """A selected change, and for a dead letter, the sink that gave up on it."""

    change: Change
    history: History
    dead: DeadLetter | None = None


def select(connection: duckdb.DuckDBPyConnection, selection: Selection) -> list[Selected]:
    """The selected changes in log order (oldest first), with their entity histories."""
    rows = _matching(connection, selection)
    seqs = sorted({row[0] for row in rows})
    changes = {c.seq: c for c in load(connection, seqs)}
    known = histories(connection, seqs)
    return [
        Selected(changes[seq], known[seq], DeadLetter(*dead) if selection.failed else None)
        for seq, *dead in rows
    ]


def _matching(connection: duckdb.DuckDBPyConnection, selection: Selection) -> list[tuple[Any, ...]]:
    """The seqs (with dead-letter columns when `failed`) of the most recent selected rows,
    oldest first."""
    conditions, params = _conditions(selection)
    columns = "c.seq"
    joins = "LEFT JOIN runs r USING (run_id)"
    if selection.failed:
        columns += ", p.sink, p.attempts, p.last_error, p.dead_at"
        joins += (
            " JOIN pending_deliveries p ON p.workflow = c.workflow AND p.seq = c.seq "
            "AND p.dead_at IS NOT NULL"
        )
        if selection.sink is not None:
            conditions.append("p.sink = ?")
            params.append(selection.sink)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    limit = ""
    if selection.limit is not None:
        limit = "LIMIT ?"
        params.append(selection.limit)
    rows = connection.execute(
        f"SELECT {columns} FROM changes c {joins} {where} ORDER BY c.seq DESC {limit}", params
    ).fetchall()
    rows.reverse()
    return rows


def _conditions(selection: Selection) -> tuple[list[str], list[Any]]:
    """The WHERE conditions on `changes c` (and its run `r`) and their parameters, in order."""
    conditions: list[str] = []
    params: list[Any] = []

    def add(condition: str, *values: Any) -> None:
        conditions.append(condition)
        params.extend(values)

    if selection.workflow is not None:
        add("c.workflow = ?", selection.workflow)
    if selection.run_id is not None:
        add("c.run_id = ?", selection.run_id)
    if selection.since is not None:
        add(f"{_WHEN} >= ?", selection.since)
    if selection.until is not None:
        add(f"{_WHEN} < ?", selection.until)
    if selection.matches is not None:
        alternatives = [_match(m, params) for m in selection.matches]
        conditions.append(f"({' OR '.join(alternatives) or 'false'})")
    if selection.entity_types:
        add("list_contains(?, c.entity_type)", list(selection.entity_types))
    if selection.key_globs:
        add(f"({' OR '.join('c.key GLOB ?' for _ in selection.key_globs)})", *selection.key_globs)
    return conditions, params


def _match(match: RowMatch, params: list[Any]) -> str:
    """One `RowMatch` as SQL; its parameters are appended to `params`."""
    parts: list[str] = []
    for values, test in (
        (match.kinds, "list_contains(?, c.kind)"),
        (match.entity_types, "list_contains(?, c.entity_type)"),
        (match.excluded_types, "NOT list_contains(?, c.entity_type)"),
    ):
        if values:
            parts.append(test)
            params.append(list(values))
    return f"({' AND '.join(parts) or 'true'})"


# --- what sinks are handed --------------------------------------------------------------------


class LogReader:
    """The change log, read-only, as a sink or `syncer events` sees it (`syncer.steps.ChangeLog`).

    A sink gets this instead of the store, so it cannot move offsets or write rows.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection

    def histories(self, seqs: Sequence[int]) -> dict[int, History]:
        return histories(self._connection, seqs)

    def load(self, seqs: Sequence[int]) -> list[Change]:
        return load(self._connection, seqs)

    def select(self, selection: Selection) -> list[Selected]:
        return select(self._connection, selection)


class StagingArea:
    """The state file for the one kind of sink that writes into it (the embedded catalog), inside
    the state's transaction (`syncer.steps.StateFile`): its connection, and change rows staged
    as a temp table so that the sink reads them with SQL, never through Python."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._connection

    def view_changes(self, name: str, seqs: Sequence[int]) -> None:
        view_changes(self._connection, name, seqs)
