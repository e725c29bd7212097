"""What the web view's pages read from a state file: runs, one run's changes and deliveries, an
entity's versions, sinks, violations. Every list is one page of rows, paged in SQL.

Each function takes a read-only DuckDB connection (to the snapshot, `syncer.ui.snapshot`) and
returns plain typed rows: the pages format them, and nothing here knows HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb
import orjson

from syncer.state import Counters
from syncer.state.history import Page

RUN_STATUSES = ("running", "succeeded", "partial", "failed", "interrupted", "crashed")
COUNTERS = Counters.FIELDS
FieldChangeKind = Literal["added", "updated", "deleted"]
# A stored description's lists, in the order a diff shows them.
_DESCRIBED: tuple[tuple[str, FieldChangeKind], ...] = (
    ("fieldsAdded", "added"),
    ("fieldsUpdated", "updated"),
    ("fieldsDeleted", "deleted"),
)


# --- runs -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: int
    workflow: str
    status: str
    mode: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    counters: dict[str, int]
    error: str | None


_RUN_COLUMNS = (
    "run_id, workflow, status, mode, started_at, ended_at, "
    "epoch(ended_at) - epoch(started_at), error, " + ", ".join(COUNTERS)
)


def _run(row: tuple[Any, ...]) -> RunRow:
    run_id, workflow, status, mode, started, ended, duration, error, *counts = row
    return RunRow(
        int(run_id),
        workflow,
        status,
        mode,
        started,
        ended,
        None if duration is None else round(float(duration), 3),
        {name: int(v or 0) for name, v in zip(COUNTERS, counts, strict=True)},
        error,
    )


def runs(
    connection: duckdb.DuckDBPyConnection,
    *,
    workflow: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[RunRow]:
    """Runs, newest first, of one workflow and status if given."""
    rows = connection.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs "
        "WHERE ($workflow IS NULL OR workflow = $workflow) "
        "AND ($status IS NULL OR status = $status) "
        "ORDER BY run_id DESC LIMIT $limit OFFSET $offset",
        {"workflow": workflow, "status": status, "limit": limit + 1, "offset": offset},
    ).fetchall()
    return Page.read([_run(r) for r in rows], offset, limit)


def run(connection: duckdb.DuckDBPyConnection, run_id: int) -> RunRow | None:
    rows = connection.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id])
    found = rows.fetchall()
    return _run(found[0]) if found else None


def workflows(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute("SELECT DISTINCT workflow FROM runs ORDER BY workflow").fetchall()
    return [str(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class StreamRow:
    stream: str
    counters: dict[str, int]
    note: str | None  # why deletions were skipped or held back, if they were


def run_streams(connection: duckdb.DuckDBPyConnection, run_id: int) -> list[StreamRow]:
    """A run's per-stream counters (a run has a stream per entity type it read: a few)."""
    rows = connection.execute(
        f"SELECT stream, note, {', '.join(COUNTERS)} FROM run_streams WHERE run_id = ? "
        "ORDER BY stream",
        [run_id],
    ).fetchall()
    return [
        StreamRow(s, {n: int(v or 0) for n, v in zip(COUNTERS, counts, strict=True)}, note)
        for s, note, *counts in rows
    ]


# --- a run's changes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRow:
    change: FieldChangeKind
    name: str
    old: Any
    new: Any


@dataclass(frozen=True, slots=True)
class ChangeRow:
    seq: int
    fqn: str
    entity_type: str
    kind: str
    fields: list[FieldRow]


def run_changes(
    connection: duckdb.DuckDBPyConnection, run_id: int, *, offset: int = 0, limit: int = 100
) -> Page[ChangeRow]:
    """A run's changes by entity type and FQN, each with its stored field-level description."""
    rows = connection.execute(
        "SELECT seq, key, entity_type, kind, description::VARCHAR FROM changes "
        "WHERE run_id = $run ORDER BY entity_type, key, seq LIMIT $limit OFFSET $offset",
        {"run": run_id, "limit": limit + 1, "offset": offset},
    ).fetchall()
    found = [ChangeRow(int(s), k, t, kind, field_rows(d)) for s, k, t, kind, d in rows]
    return Page.read(found, offset, limit)


def change_counts(connection: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, int]:
    """How many changes of each entity type a run committed."""
    rows = connection.execute(
        "SELECT entity_type, count(*) FROM changes WHERE run_id = ? GROUP BY ALL ORDER BY 1",
        [run_id],
    ).fetchall()
    return {str(t): int(n) for t, n in rows}


def field_rows(description_json: str | None) -> list[FieldRow]:
    """A stored change description (`fieldsAdded`, ...) as rows, added then updated then
    deleted."""
    if not description_json:
        return []
    description = orjson.loads(description_json)
    return [
        FieldRow(change, item["name"], item.get("oldValue"), item.get("newValue"))
        for key, change in _DESCRIBED
        for item in description.get(key) or []
    ]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one sink did with a run's changes."""

    sink: str
    offset: int
    offered: int  # the run's changes at or below the sink's offset
    pending: int  # refused, to be retried
    dead: int  # given up on
    total: int  # the run's changes


def run_deliveries(
    connection: duckdb.DuckDBPyConnection, run_id: int, workflow: str
) -> list[Delivery]:
    rows = connection.execute(
        """
        SELECT d.sink, d."offset",
               (SELECT count(*) FROM changes c WHERE c.run_id = $run AND c.seq <= d."offset"),
               (SELECT count(*) FROM pending_deliveries p JOIN changes c USING (seq)
                WHERE c.run_id = $run AND p.workflow = d.workflow AND p.sink = d.sink
                  AND p.dead_at IS NULL),
               (SELECT count(*) FROM pending_deliveries p JOIN changes c USING (seq)
                WHERE c.run_id = $run AND p.workflow = d.workflow AND p.sink = d.sink
                  AND p.dead_at IS NOT NULL),
               (SELECT count(*) FROM changes c WHERE c.run_id = $run)
        FROM deliveries d WHERE d.workflow = $workflow ORDER BY d.sink
        """,
        {"run": run_id, "workflow": workflow},
    ).fetchall()
    return [Delivery(s, int(o), int(a), int(p), int(d), int(t)) for s, o, a, p, d, t in rows]


# --- an entity --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionRow:
    seq: int
    run_id: int
    workflow: str
    entity_type: str
    kind: str
    changed_fields: list[str]
    run_status: str | None
    run_started_at: datetime | None
    committed_at: datetime | None


def entity_versions(
    connection: duckdb.DuckDBPyConnection,
    fqn: str,
    workflow: str | None = None,
    *,
    offset: int = 0,
    limit: int = 50,
) -> Page[VersionRow]:
    """Every version of `fqn`, newest first, with the run that wrote it."""
    rows = connection.execute(
        "SELECT c.seq, c.run_id, c.workflow, c.entity_type, c.kind, c.changed_fields, "
        "r.status, r.started_at, c.committed_at FROM changes c LEFT JOIN runs r USING (run_id) "
        "WHERE c.key = $key AND ($workflow IS NULL OR c.workflow = $workflow) "
        "ORDER BY c.seq DESC LIMIT $limit OFFSET $offset",
        {"key": fqn, "workflow": workflow, "limit": limit + 1, "offset": offset},
    ).fetchall()
    found = [
        VersionRow(int(s), int(r), w, t, k, list(f or []), st, sa, ca)
        for s, r, w, t, k, f, st, sa, ca in rows
    ]
    return Page.read(found, offset, limit)


def known_key(connection: duckdb.DuckDBPyConnection, fqn: str) -> bool:
    """Whether the file holds, or held, an entity of this key (a deleted one too)."""
    return bool(
        connection.execute("SELECT 1 FROM entities WHERE key = ? LIMIT 1", [fqn]).fetchall()
    )


def version_payload(
    connection: duckdb.DuckDBPyConnection, fqn: str, seq: int
) -> dict[str, Any] | None:
    """The payload of the version of `fqn` written by change `seq`; None if it is not one."""
    rows = connection.execute(
        "SELECT payload::VARCHAR FROM changes WHERE seq = ? AND key = ?", [seq, fqn]
    ).fetchall()
    if not rows:
        return None
    payload: dict[str, Any] = orjson.loads(rows[0][0])
    return payload


@dataclass(frozen=True, slots=True)
class EntityRow:
    workflow: str
    fqn: str
    entity_type: str
    changed_run: int


def current_entities(
    connection: duckdb.DuckDBPyConnection,
    *,
    containing: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[EntityRow]:
    """The entities that exist now, by FQN, those whose FQN contains `containing` if given
    (read from the entity rows alone: no payload is read to list them)."""
    rows = connection.execute(
        "SELECT workflow, key, entity_type, changed_run FROM entities "
        "WHERE deleted_run IS NULL AND ($q IS NULL OR contains(lower(key), lower($q))) "
        "ORDER BY key, workflow LIMIT $limit OFFSET $offset",
        {"q": containing, "limit": limit + 1, "offset": offset},
    ).fetchall()
    return Page.read([EntityRow(w, k, t, int(r)) for w, k, t, r in rows], offset, limit)


# --- sinks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SinkRow:
    workflow: str
    sink: str
    offset: int
    backlog: int  # changes past the offset: the next run offers them
    pending: int  # refused changes waiting to be retried
    dead: int  # changes the sink gave up on
    updated_at: datetime | None


def sinks(connection: duckdb.DuckDBPyConnection) -> list[SinkRow]:
    """Every sink of every workflow (a handful: not paged)."""
    rows = connection.execute(
        """
        SELECT b.workflow, b.sink, b."offset", b.backlog,
               b.refused - coalesce(d.dead, 0), coalesce(d.dead, 0), b.updated_at
        FROM sink_backlog b
        LEFT JOIN (SELECT workflow, sink, count(*) AS dead FROM pending_deliveries
                   WHERE dead_at IS NOT NULL GROUP BY ALL) d USING (workflow, sink)
        ORDER BY b.workflow, b.sink
        """
    ).fetchall()
    return [SinkRow(w, s, int(o), int(b), int(p), int(d), u) for w, s, o, b, p, d, u in rows]


@dataclass(frozen=True, slots=True)
class RefusedChange:
    workflow: str
    sink: str
    seq: int
    run_id: int
    fqn: str
    kind: str
    attempts: int
    last_error: str
    last_failed_at: datetime
    dead: bool


def refused_changes(
    connection: duckdb.DuckDBPyConnection,
    *,
    dead_only: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> Page[RefusedChange]:
    """Changes sinks refused (pending a retry) or gave up on (dead letters), newest first."""
    rows = connection.execute(
        "SELECT workflow, sink, seq, run_id, fqn, kind, attempts, last_error, last_failed_at, "
        "dead_at IS NOT NULL FROM pending_changes WHERE NOT $dead OR dead_at IS NOT NULL "
        "ORDER BY last_failed_at DESC, seq DESC LIMIT $limit OFFSET $offset",
        {"dead": dead_only, "limit": limit + 1, "offset": offset},
    ).fetchall()
    return Page.read([RefusedChange(*r) for r in rows], offset, limit)


# --- violations -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ViolationRow:
    run_id: int
    workflow: str
    stream: str
    entity_type: str
    fqn: str
    rule: str
    action: str
    message: str


def violations(
    connection: duckdb.DuckDBPyConnection,
    *,
    run_id: int | None = None,
    workflow: str | None = None,
    action: str | None = None,  # warn, drop or fail
    offset: int = 0,
    limit: int = 50,
) -> Page[ViolationRow]:
    """Policy violations, newest run first."""
    rows = connection.execute(
        "SELECT run_id, workflow, stream, entity_type, key, rule, action, message "
        "FROM violations WHERE ($run IS NULL OR run_id = $run) "
        "AND ($workflow IS NULL OR workflow = $workflow) AND ($action IS NULL OR action = $action) "
        "ORDER BY run_id DESC, key, rule LIMIT $limit OFFSET $offset",
        {
            "run": run_id,
            "workflow": workflow,
            "action": action,
            "limit": limit + 1,
            "offset": offset,
        },
    ).fetchall()
    return Page.read([ViolationRow(*r) for r in rows], offset, limit)


# --- streams (the experimental panel) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusyStream:
    workflow: str
    stream: str
    runs: int
    scanned: int
    changed: int  # created, updated, restored and deleted


def busiest_streams(
    connection: duckdb.DuckDBPyConnection, *, last_runs: int = 20, limit: int = 20
) -> list[BusyStream]:
    """The streams that changed most over each workflow's last `last_runs` runs."""
    rows = connection.execute(
        """
        WITH recent AS (
            SELECT run_id, workflow FROM runs
            QUALIFY row_number() OVER (PARTITION BY workflow ORDER BY run_id DESC) <= $last
        )
        SELECT r.workflow, s.stream, count(*), sum(s.scanned),
               sum(s.created + s.updated + s.restored + s.deleted) AS changed
        FROM run_streams s JOIN recent r USING (run_id)
        GROUP BY ALL ORDER BY changed DESC, r.workflow, s.stream LIMIT $limit
        """,
        {"last": last_runs, "limit": limit},
    ).fetchall()
    return [BusyStream(w, s, int(n), int(sc or 0), int(c or 0)) for w, s, n, sc, c in rows]
