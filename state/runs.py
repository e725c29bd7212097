"""Runs: their rows, per-stream counters and rule violations, and the watermarks they leave.

Functions of a connection; the caller decides the transaction (see `StateStore`).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from syncer.state.connection import first, now, one, scanning
from syncer.state.records import Counters
from syncer.state.rows import StoredWatermark, ViolationRow, Watermark

# The run id of a watermark set by hand (`syncer state reset --stream S --to VALUE`), not by a run.
BY_HAND = 0


def start(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    mode: str,
    config_fingerprint: str,
    pid: int,
    version: str,
) -> int:
    """Record a new run as `running`; its id. Ids are never reused, even after a reset."""
    run_id = int(
        one(
            connection.execute(
                "SELECT greatest((SELECT coalesce(max(run_id), 0) FROM runs), "
                "(SELECT coalesce(max(value), 0) FROM id_high_water WHERE name = 'run_id')) + 1"
            )
        )
    )
    connection.execute(
        "INSERT INTO runs (run_id, workflow, status, mode, syncer_version, "
        "config_fingerprint, pid, started_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
        [run_id, workflow, mode, version, config_fingerprint, pid, now()],
    )
    return run_id


def mark_crashed(connection: duckdb.DuckDBPyConnection, workflow: str) -> list[int]:
    """Runs left `running` by a process that died; we hold the lock, so none is alive."""
    rows = connection.execute(
        "UPDATE runs SET status = 'crashed', ended_at = coalesce(ended_at, ?) "
        "WHERE workflow = ? AND status = 'running' RETURNING run_id",
        [now(), workflow],
    ).fetchall()
    return [int(r[0]) for r in rows]


def finish(
    connection: duckdb.DuckDBPyConnection, run_id: int, status: str, error: str | None
) -> None:
    connection.execute(
        "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE run_id = ?",
        [status, now(), error, run_id],
    )


def record_streams(
    connection: duckdb.DuckDBPyConnection,
    run_id: int,
    streams: Sequence[tuple[str, Counters, str | None]],
) -> None:
    """A run's counters and note of each stream (name, counters, note), in one statement."""
    if not streams:
        return
    names = list(Counters().as_dict())
    row = f"({', '.join('?' * (len(names) + 3))})"
    params: list[object] = []
    for stream, counters, note in streams:
        params.extend((run_id, stream, *counters.as_dict().values(), note))
    connection.execute(
        f"INSERT OR REPLACE INTO run_streams (run_id, stream, {', '.join(names)}, note) "
        f"VALUES {', '.join([row] * len(streams))}",
        params,
    )


def record_violations(
    connection: duckdb.DuckDBPyConnection,
    run_id: int,
    workflow: str,
    violations: Sequence[ViolationRow],
) -> None:
    """A run's rule violations, in one statement however many there are."""
    if not violations:
        return
    columns = list(zip(*violations, strict=True))
    table = dict(zip(ViolationRow._fields, columns, strict=True))
    with scanning(connection, "new_violations", table):
        connection.execute(
            "INSERT INTO violations (run_id, workflow, stream, entity_type, key, rule, action, "
            "message) SELECT ?, ?, stream, entity_type, key, rule, action, message "
            "FROM new_violations",
            [run_id, workflow],
        )


def counters(connection: duckdb.DuckDBPyConnection, run_id: int) -> Counters:
    """A run's counters as committed so far (zeros for an unknown run)."""
    names = Counters.FIELDS
    row = first(
        connection.execute(f"SELECT {', '.join(names)} FROM runs WHERE run_id = ?", [run_id])
    )
    return Counters(**dict(zip(names, row or (0,) * len(names), strict=True)))


def watermark(
    connection: duckdb.DuckDBPyConnection, workflow: str, stream: str
) -> Watermark | None:
    row = first(
        connection.execute(
            "SELECT cursor_field, kind, value FROM watermarks WHERE workflow = ? AND stream = ?",
            [workflow, stream],
        )
    )
    return Watermark(*row) if row else None


def watermarks(
    connection: duckdb.DuckDBPyConnection, workflow: str | None = None
) -> list[StoredWatermark]:
    """Every stream's watermark, of one workflow or of all, by workflow and stream."""
    rows = connection.execute(
        "SELECT workflow, stream, cursor_field, kind, value, run_id FROM watermarks "
        "WHERE ? IS NULL OR workflow = ? ORDER BY workflow, stream",
        [workflow, workflow],
    ).fetchall()
    return [StoredWatermark(*row) for row in rows]


def forget_watermark(connection: duckdb.DuckDBPyConnection, workflow: str, stream: str) -> bool:
    """Forget one stream's watermark (its next run reads it whole); False if it had none."""
    rows = connection.execute(
        "DELETE FROM watermarks WHERE workflow = ? AND stream = ? RETURNING stream",
        [workflow, stream],
    ).fetchall()
    return bool(rows)


def set_watermark(
    connection: duckdb.DuckDBPyConnection, workflow: str, stream: str, value: str
) -> bool:
    """Move one stream's watermark to `value` (in its kind's text form), as set by hand; its
    field and kind stay. False if the stream has none."""
    rows = connection.execute(
        "UPDATE watermarks SET value = ?, run_id = ? WHERE workflow = ? AND stream = ? "
        "RETURNING stream",
        [value, BY_HAND, workflow, stream],
    ).fetchall()
    return bool(rows)
