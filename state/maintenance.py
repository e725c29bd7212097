"""Maintenance: the workflows a file holds, pruning old history, forgetting a workflow, and
the high-water marks that keep seqs and run ids from ever being reused.

The caller holds the transaction (see `StateStore.prune` and `StateStore.reset`).
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from syncer.state.connection import first

# The state's own tables that hold rows of a workflow, in the order a reset deletes them.
_WORKFLOW_TABLES = (
    "pending_deliveries",
    "deliveries",
    "watermarks",
    "changes",
    "entities",
    "violations",
)


def workflows(connection: duckdb.DuckDBPyConnection) -> list[str]:
    rows = connection.execute("SELECT DISTINCT workflow FROM runs ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def next_seq(connection: duckdb.DuckDBPyConnection) -> int:
    """The seq the next committed change gets: past every seq the file ever handed out."""
    row = first(
        connection.execute(
            "SELECT greatest((SELECT coalesce(max(seq), 0) FROM changes), "
            "(SELECT coalesce(max(value), 0) FROM id_high_water WHERE name = 'seq')) + 1"
        )
    )
    return int(row[0]) if row else 1


def remember_high_water(connection: duckdb.DuckDBPyConnection, used_seq: int) -> None:
    """Seqs and run ids are never reused after rows go: sinks skip a seq already written.
    `used_seq` is the highest seq handed out, which may not be in the file any more."""
    connection.execute(
        "INSERT OR REPLACE INTO id_high_water SELECT name, greatest(used, coalesce("
        "(SELECT max(value) FROM id_high_water h WHERE h.name = u.name), 0)) FROM ("
        "SELECT 'seq' AS name, greatest(coalesce(max(seq), 0), ?) AS used FROM changes "
        "UNION ALL SELECT 'run_id', coalesce(max(run_id), 0) FROM runs) u",
        [used_seq],
    )


def prune(
    connection: duckdb.DuckDBPyConnection, workflow: str, before: datetime
) -> tuple[int, int]:
    """Forget a workflow's history from runs that started before `before`: (changes, runs).

    Kept whatever its age: anything a sink has not yet taken or refused, the workflow's latest
    run, and of each key the latest change, which holds the entity's current payload, and the
    latest that every sink has taken, which holds what a sink last received of it (the
    embedded catalog reads its payloads there). A change goes once a later change of its key
    has reached every sink.
    """
    params = {"w": workflow, "before": before}
    changes = connection.execute(
        'WITH taken AS (SELECT coalesce(min("offset"), 0) AS upto FROM deliveries '
        "WHERE workflow = $w) "
        "DELETE FROM changes c WHERE c.workflow = $w "
        "AND c.run_id IN (SELECT run_id FROM runs WHERE workflow = $w "
        "AND started_at < $before) "
        "AND EXISTS (SELECT 1 FROM changes n, taken WHERE n.workflow = $w "
        "AND n.stream = c.stream AND n.key = c.key AND n.seq > c.seq AND n.seq <= taken.upto) "
        "AND NOT EXISTS (SELECT 1 FROM pending_deliveries p "
        "WHERE p.workflow = $w AND p.seq = c.seq) RETURNING seq",
        params,
    ).fetchall()
    runs = connection.execute(
        "DELETE FROM runs WHERE workflow = $w AND started_at < $before "
        "AND run_id < (SELECT max(run_id) FROM runs WHERE workflow = $w) "
        "AND run_id NOT IN (SELECT DISTINCT run_id FROM changes WHERE workflow = $w) "
        "RETURNING run_id",
        params,
    ).fetchall()
    if runs:
        for table in ("run_streams", "violations"):
            connection.execute(
                f"DELETE FROM {table} WHERE run_id IN (SELECT unnest($ids))",
                {"ids": [r[0] for r in runs]},
            )
    return len(changes), len(runs)


def reset(connection: duckdb.DuckDBPyConnection, workflow: str) -> None:
    """Forget a workflow's rows in the state's own tables. What a sink wrote elsewhere (even
    into this file: the embedded catalog) is that sink's to forget."""
    for table in _WORKFLOW_TABLES:
        connection.execute(f"DELETE FROM {table} WHERE workflow = ?", [workflow])
    connection.execute(
        "DELETE FROM run_streams WHERE run_id IN (SELECT run_id FROM runs WHERE workflow = ?)",
        [workflow],
    )
    connection.execute("DELETE FROM runs WHERE workflow = ?", [workflow])
