"""Entities: what the state holds of each key, what a batch commits, and what a run did not see.

An entity row keeps its key, fingerprint and dependencies (the keys whose deletion takes it
with it, computed by the engine); its payload lives in the change that last touched it. Every
write is one statement over a temp table of the batch (`scanning`), however large it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Literal

import duckdb

from syncer.state.connection import now, one, scanning, temp_table
from syncer.state.rows import Batch, ChangeRow, DependencyRow, Known, Missing

_CHANGE_TYPES = {"changed_fields": "VARCHAR[]", "depends_on": "VARCHAR[]"}


def changed(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    stream: str,
    keys: list[str],
    fingerprints: list[str],
) -> dict[int, Known]:
    """What the state knows of the keys whose fingerprint differs from it, by position.

    Keys the state holds with the same fingerprint are left out: on a re-run that finds
    nothing new, nothing comes back from DuckDB at all.
    """
    batch = {"i": range(len(keys)), "key": keys, "fp": fingerprints}
    with scanning(connection, "batch", batch):
        # The payloads are looked up through a semi join first. Joined to `changes` directly,
        # a batch of new keys (no `last_seq` to narrow the scan by) made DuckDB read every
        # payload of the change log, once per batch: a 100,000-table first run spent 0.26 s in
        # this query, 0.12 s now. The semi join reads no payload when no key is known, and
        # only those it needs when some are.
        rows = connection.execute(
            "WITH differing AS (SELECT b.i, e.fingerprint, e.deleted_run, e.last_seq "
            "FROM batch b LEFT JOIN entities e "
            "ON e.workflow = ? AND e.stream = ? AND e.key = b.key "
            "WHERE e.fingerprint IS DISTINCT FROM b.fp OR e.deleted_run IS NOT NULL), "
            "known AS (SELECT seq, payload FROM changes SEMI JOIN differing ON seq = last_seq) "
            "SELECT d.i, d.fingerprint, d.deleted_run IS NOT NULL, c.payload::VARCHAR "
            "FROM differing d LEFT JOIN known c ON c.seq = d.last_seq",
            [workflow, stream],
        ).fetchall()
    return {
        i: Known(fp, bool(deleted) and fp is not None, payload) for i, fp, deleted, payload in rows
    }


def same_digests(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    stream: str,
    keys: list[str],
    digests: list[str],
) -> set[int]:
    """The positions of the keys whose live entity holds the same raw digest."""
    batch = {"i": range(len(keys)), "key": keys, "d": digests}
    with scanning(connection, "raw_batch", batch):
        rows = connection.execute(
            "SELECT b.i FROM raw_batch b JOIN entities e "
            "ON e.workflow = ? AND e.stream = ? AND e.key = b.key "
            "WHERE e.raw_digest = b.d AND e.deleted_run IS NULL",
            [workflow, stream],
        ).fetchall()
    return {i for (i,) in rows}


def carry_over(
    connection: duckdb.DuckDBPyConnection, workflow: str, origins: Sequence[str]
) -> dict[str, int]:
    """Mark seen the live entities that `origins` gave (their relationships, last derived
    from them): those entities are not derived again while their origins are unchanged. How
    many, by stream."""
    with scanning(connection, "carried_origins", {"origin": origins}):
        rows = connection.execute(
            "INSERT INTO seen SELECT e.stream, e.key FROM entities e "
            "SEMI JOIN carried_origins o ON e.origin = o.origin "
            "WHERE e.workflow = ? AND e.deleted_run IS NULL RETURNING stream",
            [workflow],
        ).fetchall()
    return dict(Counter(stream for (stream,) in rows))


def forget_seen(connection: duckdb.DuckDBPyConnection) -> None:
    """Start a run's record of keys read (a temp table: it never reaches the file)."""
    connection.execute("CREATE OR REPLACE TEMP TABLE seen (stream VARCHAR, key VARCHAR)")


def mark_seen(connection: duckdb.DuckDBPyConnection, stream: str, keys: Sequence[str]) -> None:
    # One statement: the keys are only appended, never joined, so they need no temp table.
    connection.execute(
        "INSERT INTO seen SELECT ?, unnest(?::VARCHAR[])",
        [stream, keys if isinstance(keys, list) else list(keys)],
    )


def live_counts(connection: duckdb.DuckDBPyConnection, workflow: str) -> dict[str, int]:
    """How many live entities each stream of a workflow holds."""
    rows = connection.execute(
        "SELECT stream, count(*) FROM entities WHERE workflow = ? AND deleted_run IS NULL "
        "GROUP BY stream",
        [workflow],
    ).fetchall()
    return {stream: int(count) for stream, count in rows}


def unseen(
    connection: duckdb.DuckDBPyConnection,
    workflow: str,
    stream: str,
    under: Collection[str] | None = None,
) -> list[Missing]:
    """The live entities of a stream that this run did not read; with `under`, only those that
    depend on one of these keys (a cascade reads no more)."""
    rows = connection.execute(
        "WITH missing AS (SELECT key, entity_type, parent_key, depends_on, fingerprint, last_seq "
        "FROM entities e WHERE e.workflow = $workflow AND e.stream = $stream "
        "AND e.deleted_run IS NULL "
        "AND ($under IS NULL OR list_has_any(e.depends_on, $under)) "
        "AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.stream = e.stream AND s.key = e.key)) "
        "SELECT m.key, m.entity_type, m.parent_key, m.depends_on, m.fingerprint, "
        "c.payload::VARCHAR FROM missing m JOIN changes c ON c.seq = m.last_seq ORDER BY m.key",
        {
            "workflow": workflow,
            "stream": stream,
            "under": sorted(under) if under is not None else None,
        },
    ).fetchall()
    return [
        Missing(key, entity_type, parent, depends_on or [], fingerprint, payload)
        for key, entity_type, parent, depends_on, fingerprint, payload in rows
    ]


def write(connection: duckdb.DuckDBPyConnection, batch: Batch, first_seq: int) -> list[int]:
    """A batch's change rows (numbered from `first_seq`), entities, watermark and counters; the
    seqs. The caller holds the transaction that makes them one."""
    seqs = range(first_seq, first_seq + len(batch.changes))
    if batch.changes:
        columns = list(zip(*batch.changes, strict=True))
        changes = {"seq": seqs, **dict(zip(ChangeRow._fields, columns, strict=True))}
        with scanning(connection, "new_changes", changes, _CHANGE_TYPES):
            _write_changes(connection, batch)
    if batch.digests:
        _write_column(connection, batch, "raw_digest", batch.digests)
    if batch.origins:
        _write_column(connection, batch, "origin", batch.origins)
    if batch.watermark is not None:
        wm = batch.watermark
        connection.execute(
            "INSERT INTO watermarks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "cursor_field = excluded.cursor_field, kind = excluded.kind, "
            "value = excluded.value, run_id = excluded.run_id",
            [batch.workflow, batch.stream, wm.cursor_field, wm.kind, wm.value, batch.run_id],
        )
    counts = batch.counters.as_dict()
    connection.execute(
        f"UPDATE runs SET {', '.join(f'{k} = {k} + ?' for k in counts)} WHERE run_id = ?",
        [*counts.values(), batch.run_id],
    )
    return list(seqs)


def _write_changes(connection: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """The change-log rows, then the entities they leave behind (from `new_changes`)."""
    connection.execute(
        "INSERT INTO changes (seq, run_id, workflow, stream, key, entity_type, kind, fingerprint, "
        "old_fingerprint, changed_fields, description, payload, committed_at) "
        "SELECT seq, ?, ?, ?, key, entity_type, kind, fingerprint, old_fingerprint, "
        "changed_fields, description::JSON, payload::JSON, ? FROM new_changes",
        [batch.run_id, batch.workflow, batch.stream, now()],
    )
    # An entity keeps no payload of its own: it points at the change that holds it.
    connection.execute(
        "INSERT INTO entities (workflow, stream, key, entity_type, parent_key, depends_on, "
        "fingerprint, last_seq, first_run, changed_run, deleted_run, raw_digest, origin) "
        "SELECT ?, ?, key, entity_type, parent_key, depends_on, fingerprint, seq, ?, ?, NULL, "
        "raw_digest, origin FROM new_changes WHERE kind <> 'deleted' "
        "ON CONFLICT DO UPDATE SET fingerprint = excluded.fingerprint, "
        "last_seq = excluded.last_seq, changed_run = excluded.changed_run, "
        "entity_type = excluded.entity_type, parent_key = excluded.parent_key, "
        "deleted_run = NULL, raw_digest = excluded.raw_digest, origin = excluded.origin",
        [batch.workflow, batch.stream, batch.run_id, batch.run_id],
    )
    # A list column is not updated in place: DuckDB rewrites the row. Dependencies rarely
    # change, so they are written only where they did (an update that set them on every
    # changed entity doubled what a re-run added to the file). Whether any did is asked first:
    # the UPDATE reads every column of the stream's entities (a list column is rewritten as a
    # whole row), the question only keys and dependencies, in half the time; and usually
    # none did (on a first run, never).
    moved = "e.workflow = ? AND e.stream = ? AND e.depends_on IS DISTINCT FROM n.depends_on"
    params = [batch.workflow, batch.stream]
    if one(
        connection.execute(
            "SELECT count(*) FROM entities e JOIN new_changes n ON e.key = n.key "
            f"WHERE n.kind <> 'deleted' AND {moved}",
            params,
        )
    ):
        connection.execute(
            "UPDATE entities e SET depends_on = n.depends_on FROM new_changes n "
            f"WHERE n.kind <> 'deleted' AND e.key = n.key AND {moved}",
            params,
        )
    connection.execute(
        "UPDATE entities e SET deleted_run = ?, changed_run = ?, last_seq = n.seq "
        "FROM new_changes n WHERE n.kind = 'deleted' AND e.workflow = ? AND e.stream = ? "
        "AND e.key = n.key",
        [batch.run_id, batch.run_id, batch.workflow, batch.stream],
    )


def _write_column(
    connection: duckdb.DuckDBPyConnection,
    batch: Batch,
    column: Literal["raw_digest", "origin"],
    values: list[tuple[str, str]],
) -> None:
    """New raw digests (or origins) of entities found unchanged, where they moved: after an
    upgrade, a config change, or a source row that moved without changing the entity.

    The rows that moved are written again, not updated: DuckDB updates a stored text column a
    row at a time (0.12 ms a row: 2.6 s for the 20,000 tables of a file after an upgrade), and
    deletes and appends in bulk (a sixth of that). DuckDB takes a key deleted and inserted
    again in one transaction since 1.3."""
    keys, new = zip(*values, strict=True)
    where = [batch.workflow, batch.stream]
    moved = (
        f"SELECT e.* REPLACE (n.v AS {column}) FROM entities e JOIN new_values n ON e.key = n.key "
        f"WHERE e.workflow = ? AND e.stream = ? AND e.{column} IS DISTINCT FROM n.v"
    )
    with (
        scanning(connection, "new_values", {"key": keys, "v": new}),
        temp_table(connection, "moved", moved, where),
    ):
        connection.execute(
            "DELETE FROM entities e USING moved m "
            "WHERE e.workflow = ? AND e.stream = ? AND e.key = m.key",
            where,
        )
        connection.execute("INSERT INTO entities SELECT * FROM moved")


def orphans(connection: duckdb.DuckDBPyConnection, workflow: str) -> list[tuple[str, str, str]]:
    """Live entities that depend on a key no workflow of the state holds: (type, key, missing
    key)."""
    rows = connection.execute(
        """
        WITH wanted AS (SELECT entity_type, key, unnest(depends_on) AS needs FROM entities
                        WHERE workflow = ? AND deleted_run IS NULL)
        -- An end may belong to another workflow in this file (dbt's tables, read by sql).
        SELECT entity_type, key, needs FROM wanted
        WHERE needs NOT IN (SELECT key FROM entities WHERE deleted_run IS NULL)
        ORDER BY key, needs
        """,
        [workflow],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def without_dependencies(connection: duckdb.DuckDBPyConnection, limit: int) -> list[DependencyRow]:
    """Up to `limit` entities (of any workflow, deleted ones too) stored before state schema v4
    kept dependencies, with the payload of their last change to compute them from."""
    rows = connection.execute(
        "SELECT e.workflow, e.stream, e.key, e.entity_type, e.parent_key, c.payload::VARCHAR "
        "FROM entities e JOIN changes c ON c.seq = e.last_seq WHERE e.depends_on IS NULL "
        "ORDER BY e.workflow, e.stream, e.key LIMIT ?",
        [limit],
    ).fetchall()
    return [DependencyRow(*row) for row in rows]


def set_dependencies(
    connection: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str, str, str, list[str]]]
) -> None:
    """Store computed dependencies: (workflow, stream, key, depends_on) rows, one statement."""
    if not rows:
        return
    workflows, streams, keys, depends_on = zip(*rows, strict=True)
    table = {"workflow": workflows, "stream": streams, "key": keys, "depends_on": depends_on}
    with scanning(connection, "computed_dependencies", table, {"depends_on": "VARCHAR[]"}):
        connection.execute(
            "UPDATE entities e SET depends_on = d.depends_on FROM computed_dependencies d "
            "WHERE e.workflow = d.workflow AND e.stream = d.stream AND e.key = d.key"
        )
