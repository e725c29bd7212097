"""Reads events out of the state: entity versions for a batch of changes, and the changes that
`syncer events` lists and `syncer events replay` re-sends.

Only reads; a replay never moves a sink's offset and a listing never opens the file for writing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from state.store import SELECT_CHANGES
from syncer.errors import ConfigError
from syncer.events import LINEAGE, EventFilter, History
from syncer.steps import Change

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The SQL condition on a change row that yields each event type (see `events.event_type`).
_TYPE_CONDITIONS = {
    "entityCreated": f"(c.kind = 'created' AND c.entity_type <> '{LINEAGE}')",
    "entityUpdated": f"(c.kind = 'updated' AND c.entity_type <> '{LINEAGE}')",
    "entitySoftDeleted": f"(c.kind = 'deleted' AND c.entity_type <> '{LINEAGE}')",
    "entityRestored": f"(c.kind = 'restored' AND c.entity_type <> '{LINEAGE}')",
    "entityDeleted": "false",
    "entityLineageAdded": f"(c.entity_type = '{LINEAGE}' AND c.kind <> 'deleted')",
    "entityLineageDeleted": f"(c.entity_type = '{LINEAGE}' AND c.kind = 'deleted')",
}
# When a change was committed: rows from before state v3 carry no time; their run's start does.
_WHEN = "coalesce(c.committed_at, r.started_at)"


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `3d`, `1w` ago, or an ISO date or time (UTC unless it names an offset)."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"time {text!r}: use an ISO date or time (2024-05-01, 2024-05-01T12:00, "
            "2024-05-01T12:00+02:00) or an age such as 30m, 2h, 3d, 1w"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which committed changes to list or replay; every condition given must hold."""

    workflow: str | None = None
    run_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    filter: EventFilter = field(default_factory=EventFilter)
    failed: bool = False  # only dead letters
    sink: str | None = None  # with `failed`: only this sink's
    limit: int | None = None  # the most recent N


@dataclass(frozen=True, slots=True)
class DeadLetter:
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
    """The selected changes in log order (oldest first), with their entity versions."""
    rows = _matching(connection, selection)
    seqs = sorted({row[0] for row in rows})
    changes = {c.seq: c for c in load(connection, seqs)}
    known = histories(connection, seqs)
    return [
        Selected(
            changes[seq],
            known[seq],
            DeadLetter(*dead) if selection.failed else None,
        )
        for seq, *dead in rows
    ]


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


def _matching(connection: duckdb.DuckDBPyConnection, selection: Selection) -> list[tuple[Any, ...]]:
    conditions: list[str] = []
    params: list[Any] = []
    if selection.workflow is not None:
        conditions.append("c.workflow = ?")
        params.append(selection.workflow)
    if selection.run_id is not None:
        conditions.append("c.run_id = ?")
        params.append(selection.run_id)
    if selection.since is not None:
        conditions.append(f"{_WHEN} >= ?")
        params.append(selection.since)
    if selection.until is not None:
        conditions.append(f"{_WHEN} < ?")
        params.append(selection.until)
    wanted = selection.filter
    if wanted.event_types:
        conditions.append(f"({' OR '.join(_TYPE_CONDITIONS[t] for t in wanted.event_types)})")
    if wanted.entity_types:
        conditions.append("list_contains(?, c.entity_type)")
        params.append(wanted.entity_types)
    if wanted.fqn:
        conditions.append(f"({' OR '.join('c.key GLOB ?' for _ in wanted.fqn)})")
        params.extend(wanted.fqn)
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
