"""The DuckDB state store: runs, watermarks, entity fingerprints, the change log, deliveries.

All writes are bulk (Arrow tables scanned by DuckDB), never row by row. One process writes a
state file at a time; DuckDB's own file lock enforces it and we turn its error into a clear one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import orjson
import pyarrow as pa

from state.schema import MIGRATIONS, SCHEMA_VERSION
from syncer import __version__
from syncer.errors import StateError, StateLockedError
from syncer.steps import ChangeBatch, Counters

MEMORY = ":memory:"
_CHANGE_TYPES = {"changed_fields": pa.list_(pa.string())}
# The columns of a `Change`, in its field order (payload_json follows).
_CHANGE_COLUMNS = (
    "seq, run_id, workflow, stream, key, entity_type, kind, fingerprint, old_fingerprint, "
    "changed_fields"
)
# Change-log rows with the columns of `syncer.steps.Change`, in its order; add a WHERE.
SELECT_CHANGES = (
    f"SELECT {_CHANGE_COLUMNS}, payload::VARCHAR AS payload_json, "
    "description::VARCHAR AS description_json, committed_at FROM changes"
)
_SETTINGS: dict[str, str | bool | int | float | list[str]] = {
    # DuckDB would cache up to 80% of RAM; a sync must stay small on an edge box. Beyond this
    # it spills to disk instead.
    "memory_limit": "256MB",
    # Checkpointing after every 16 MB of WAL (the default) made first runs spend a third of
    # their time checkpointing; closing the store checkpoints anyway.
    "checkpoint_threshold": "128MB",
}
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


@dataclass(frozen=True, slots=True)
class Known:
    """What the state holds for one key of a batch whose fingerprint it does not match."""

    fingerprint: str | None  # None: never seen
    deleted: bool
    payload: str | None


@dataclass(frozen=True, slots=True)
class Missing:
    """A live entity of a stream that this run did not read: a deletion candidate."""

    key: str
    entity_type: str
    parent_key: str | None
    fingerprint: str
    payload: str

    def depends_on(self) -> set[str]:
        """Keys whose deletion takes this entity with it: its parent, or a lineage edge's ends."""
        if self.entity_type == "lineage":
            edge = orjson.loads(self.payload)
            return {
                edge["fromEntity"]["fullyQualifiedName"],
                edge["toEntity"]["fullyQualifiedName"],
            }
        return {self.parent_key} if self.parent_key else set()


@dataclass(frozen=True, slots=True)
class Watermark:
    cursor_field: str
    kind: str
    value: str


class ChangeRow(NamedTuple):
    """One change a batch commits: the change-log row, and the entity's new state with it."""

    key: str
    entity_type: str
    parent_key: str | None
    kind: str  # created, updated, restored, deleted
    fingerprint: str | None  # None for a deletion
    old_fingerprint: str | None
    changed_fields: list[str]
    description: str | None  # JSON: fieldsAdded / fieldsUpdated / fieldsDeleted
    payload: str  # canonical JSON; for a deletion, the entity's last known state


class ViolationRow(NamedTuple):
    """A rule an entity broke in a run (see `syncer.steps.Violation`)."""

    stream: str
    entity_type: str
    key: str
    rule: str
    action: str
    message: str


@dataclass
class Batch:
    """Everything one batch commits, in one transaction."""

    run_id: int
    workflow: str
    stream: str
    changes: list[ChangeRow] = field(default_factory=list)
    watermark: Watermark | None = None
    counters: Counters = field(default_factory=Counters)


class StateStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection, path: str, read_only: bool):
        self.connection = connection
        self.path = path
        self.read_only = read_only
        self._next_seq = 1
        if not read_only:
            row = _first(
                connection.execute(
                    "SELECT greatest((SELECT coalesce(max(seq), 0) FROM changes), "
                    "(SELECT coalesce(max(value), 0) FROM id_high_water WHERE name = 'seq')) + 1"
                )
            )
            self._next_seq = int(row[0]) if row else 1

    # --- opening --------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path | str, *, read_only: bool = False, memory_limit: str | None = None
    ) -> StateStore:
        where = str(path)
        if where != MEMORY:
            if read_only and not Path(where).exists():
                raise StateError(
                    f"no state file at {where}: run `syncer run CONFIG` first, or pass --state"
                )
            if not read_only:
                try:
                    Path(where).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StateError(
                        f"{where}: cannot create its folder ({exc.strerror}); "
                        "point --state or state.path somewhere writable"
                    ) from None
        try:
            settings = {**_SETTINGS, **({"memory_limit": memory_limit} if memory_limit else {})}
            connection = duckdb.connect(where, read_only=read_only, config=settings)
        except duckdb.IOException as exc:
            raise _open_error(where, exc) from None
        except duckdb.Error as exc:
            raise StateError(f"{where}: cannot open the state file ({exc})") from None
        try:
            _migrate(connection, where, read_only)
        except BaseException:
            connection.close()
            raise
        return cls(connection, where, read_only)

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN TRANSACTION")
        try:
            yield
            self.connection.execute("COMMIT")
        except BaseException:
            # Also when COMMIT itself failed or was interrupted: leave no transaction open.
            with suppress(duckdb.Error):
                self.connection.execute("ROLLBACK")
            raise

    # --- runs -----------------------------------------------------------------------------

    def start_run(self, workflow: str, mode: str, config_fingerprint: str, pid: int) -> int:
        with self.transaction():
            row = self.connection.execute(
                "SELECT greatest((SELECT coalesce(max(run_id), 0) FROM runs), "
                "(SELECT coalesce(max(value), 0) FROM id_high_water WHERE name = 'run_id')) + 1"
            )
            run_id = int(_one(row))
            self.connection.execute(
                "INSERT INTO runs (run_id, workflow, status, mode, syncer_version, "
                "config_fingerprint, pid, started_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                [run_id, workflow, mode, __version__, config_fingerprint, pid, _now()],
            )
        return run_id

    def mark_crashed(self, workflow: str) -> list[int]:
        """Runs left `running` by a process that died; we hold the lock, so none is alive."""
        rows = self.connection.execute(
            "UPDATE runs SET status = 'crashed', ended_at = coalesce(ended_at, ?) "
            "WHERE workflow = ? AND status = 'running' RETURNING run_id",
            [_now(), workflow],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        self.connection.execute(
            "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE run_id = ?",
            [status, _now(), error, run_id],
        )

    def record_stream(self, run_id: int, stream: str, counters: Counters, note: str | None) -> None:
        values = counters.as_dict()
        self.connection.execute(
            f"INSERT OR REPLACE INTO run_streams (run_id, stream, {', '.join(values)}, note) "
            f"VALUES (?, ?, {', '.join('?' * len(values))}, ?)",
            [run_id, stream, *values.values(), note],
        )

    def record_violations(
        self, run_id: int, workflow: str, violations: Sequence[ViolationRow]
    ) -> None:
        if violations:
            self.connection.executemany(
                "INSERT INTO violations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[run_id, workflow, *v] for v in violations],
            )

    def run_counters(self, run_id: int) -> Counters:
        names = Counters.FIELDS
        row = _first(
            self.connection.execute(
                f"SELECT {', '.join(names)} FROM runs WHERE run_id = ?", [run_id]
            )
        )
        return Counters(**dict(zip(names, row or (0,) * len(names), strict=True)))

    # --- watermarks -----------------------------------------------------------------------

    def watermark(self, workflow: str, stream: str) -> Watermark | None:
        row = _first(
            self.connection.execute(
                "SELECT cursor_field, kind, value FROM watermarks "
                "WHERE workflow = ? AND stream = ?",
                [workflow, stream],
            )
        )
        return Watermark(*row) if row else None

    # --- diff and commit ------------------------------------------------------------------

    def changed(
        self, workflow: str, stream: str, keys: list[str], fingerprints: list[str]
    ) -> dict[int, Known]:
        """What the state knows of the keys whose fingerprint differs from it, by position.

        Keys the state holds with the same fingerprint are left out: on a re-run that finds
        nothing new, nothing comes back from DuckDB at all.
        """
        batch = pa.table(
            {"i": pa.array(range(len(keys)), pa.int64()), "key": keys, "fp": fingerprints}
        )
        with scanning(self.connection, "batch", batch):
            rows = self.connection.execute(
                "WITH differing AS (SELECT b.i, e.fingerprint, e.deleted_run, e.last_seq "
                "FROM batch b LEFT JOIN entities e "
                "ON e.workflow = ? AND e.stream = ? AND e.key = b.key "
                "WHERE e.fingerprint IS DISTINCT FROM b.fp OR e.deleted_run IS NOT NULL) "
                "SELECT d.i, d.fingerprint, d.deleted_run IS NOT NULL, c.payload::VARCHAR "
                "FROM differing d LEFT JOIN changes c ON c.seq = d.last_seq",
                [workflow, stream],
            ).fetchall()
        return {
            i: Known(fp, bool(deleted) and fp is not None, payload)
            for i, fp, deleted, payload in rows
        }

    def forget_seen(self) -> None:
        """Start a run's record of keys read (a temp table: it never reaches the file)."""
        self.connection.execute("CREATE OR REPLACE TEMP TABLE seen (stream VARCHAR, key VARCHAR)")

    def mark_seen(self, stream: str, keys: Sequence[str]) -> None:
        seen = pa.table({"stream": pa.array([stream] * len(keys), pa.string()), "key": keys})
        with scanning(self.connection, "seen_batch", seen):
            self.connection.execute("INSERT INTO seen SELECT stream, key FROM seen_batch")

    def live_counts(self, workflow: str) -> dict[str, int]:
        """How many live entities each stream of a workflow holds."""
        rows = self.connection.execute(
            "SELECT stream, count(*) FROM entities WHERE workflow = ? AND deleted_run IS NULL "
            "GROUP BY stream",
            [workflow],
        ).fetchall()
        return {stream: int(count) for stream, count in rows}

    def unseen(
        self, workflow: str, stream: str, under: Collection[str] | None = None
    ) -> list[Missing]:
        """The live entities of a stream that this run did not read; with `under`, only those
        whose parent or lineage end is one of these keys (a cascade reads no more)."""
        rows = self.connection.execute(
            "WITH missing AS (SELECT key, entity_type, parent_key, fingerprint, last_seq "
            "FROM entities e WHERE e.workflow = $workflow AND e.stream = $stream "
            "AND e.deleted_run IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM seen s WHERE s.stream = e.stream AND s.key = e.key)) "
            "SELECT m.key, m.entity_type, m.parent_key, m.fingerprint, c.payload::VARCHAR "
            "FROM missing m JOIN changes c ON c.seq = m.last_seq "
            "WHERE $under IS NULL OR list_contains($under, m.parent_key) "
            "OR list_contains($under, c.payload->>'$.fromEntity.fullyQualifiedName') "
            "OR list_contains($under, c.payload->>'$.toEntity.fullyQualifiedName') "
            "ORDER BY m.key",
            {
                "workflow": workflow,
                "stream": stream,
                "under": sorted(under) if under is not None else None,
            },
        ).fetchall()
        return [Missing(*row) for row in rows]

    def commit(self, batch: Batch) -> list[int]:
        """Write a batch's entities, change rows, watermark and counters atomically; the seqs."""
        with self.transaction():
            seqs = self._write(batch)
        return seqs

    def _write(self, batch: Batch) -> list[int]:
        con = self.connection
        seqs = list(range(self._next_seq, self._next_seq + len(batch.changes)))
        if batch.changes:
            columns = list(zip(*batch.changes, strict=True))
            changes = pa.table(
                {
                    "seq": pa.array(seqs, pa.int64()),
                    **{
                        name: pa.array(values, _CHANGE_TYPES.get(name, pa.string()))
                        for name, values in zip(ChangeRow._fields, columns, strict=True)
                    },
                }
            )
            with scanning(con, "new_changes", changes):
                self._write_changes(batch)
        if batch.watermark is not None:
            wm = batch.watermark
            con.execute(
                "INSERT INTO watermarks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "cursor_field = excluded.cursor_field, kind = excluded.kind, "
                "value = excluded.value, run_id = excluded.run_id",
                [batch.workflow, batch.stream, wm.cursor_field, wm.kind, wm.value, batch.run_id],
            )
        counts = batch.counters.as_dict()
        con.execute(
            f"UPDATE runs SET {', '.join(f'{k} = {k} + ?' for k in counts)} WHERE run_id = ?",
            [*counts.values(), batch.run_id],
        )
        self._next_seq += len(batch.changes)
        return seqs

    def _write_changes(self, batch: Batch) -> None:
        """The change-log rows, then the entities they leave behind (from `new_changes`)."""
        con = self.connection
        con.execute(
            "INSERT INTO changes SELECT seq, ?, ?, ?, key, entity_type, kind, fingerprint, "
            "old_fingerprint, changed_fields, description::JSON, payload::JSON, ? "
            "FROM new_changes",
            [batch.run_id, batch.workflow, batch.stream, _now()],
        )
        # An entity keeps no payload of its own: it points at the change that holds it.
        con.execute(
            "INSERT INTO entities SELECT ?, ?, key, entity_type, parent_key, fingerprint, seq, "
            "?, ?, NULL FROM new_changes WHERE kind <> 'deleted' "
            "ON CONFLICT DO UPDATE SET fingerprint = excluded.fingerprint, "
            "last_seq = excluded.last_seq, changed_run = excluded.changed_run, "
            "entity_type = excluded.entity_type, parent_key = excluded.parent_key, "
            "deleted_run = NULL",
            [batch.workflow, batch.stream, batch.run_id, batch.run_id],
        )
        con.execute(
            "UPDATE entities e SET deleted_run = ?, changed_run = ?, last_seq = n.seq "
            "FROM new_changes n WHERE n.kind = 'deleted' AND e.workflow = ? AND e.stream = ? "
            "AND e.key = n.key",
            [batch.run_id, batch.run_id, batch.workflow, batch.stream],
        )

    def orphans(self, workflow: str) -> list[tuple[str, str, str]]:
        """Live entities whose parent or lineage end no workflow of the state holds: (type, key,
        missing key)."""
        rows = self.connection.execute(
            """
            WITH live AS (SELECT key, entity_type, parent_key, last_seq FROM entities
                          WHERE workflow = ? AND deleted_run IS NULL),
            edges AS (SELECT l.entity_type, l.key, c.payload FROM live l
                      JOIN changes c ON c.seq = l.last_seq WHERE l.entity_type = 'lineage'),
            wanted AS (
                SELECT entity_type, key, parent_key AS needs FROM live WHERE parent_key IS NOT NULL
                UNION ALL
                SELECT entity_type, key, payload->>'$.fromEntity.fullyQualifiedName' FROM edges
                UNION ALL
                SELECT entity_type, key, payload->>'$.toEntity.fullyQualifiedName' FROM edges)
            -- An end may belong to another workflow in this file (dbt's tables, read by sql).
            SELECT entity_type, key, needs FROM wanted
            WHERE needs NOT IN (SELECT key FROM entities WHERE deleted_run IS NULL)
            ORDER BY key
            """,
            [workflow],
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    # --- delivery -------------------------------------------------------------------------

    def offset(self, workflow: str, sink: str) -> int:
        row = _first(
            self.connection.execute(
                'SELECT "offset" FROM deliveries WHERE workflow = ? AND sink = ?', [workflow, sink]
            )
        )
        return int(row[0]) if row else 0

    def last_seq(self, workflow: str) -> int:
        return int(
            _one(
                self.connection.execute(
                    "SELECT coalesce(max(seq), 0) FROM changes WHERE workflow = ?", [workflow]
                )
            )
        )

    def changes_after(self, workflow: str, offset: int, upto: int, limit: int) -> ChangeBatch:
        return self._changes(
            "workflow = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            [workflow, offset, upto, limit],
        )

    def pending(self, workflow: str, sink: str) -> ChangeBatch:
        """The changes a sink refused and will be offered again (dead letters are not)."""
        return self._changes(
            "workflow = ? AND seq IN (SELECT seq FROM pending_deliveries "
            "WHERE workflow = ? AND sink = ? AND dead_at IS NULL) ORDER BY seq",
            [workflow, workflow, sink],
        )

    def record_delivery(
        self,
        workflow: str,
        sink: str,
        offset: int,
        delivered: Sequence[int],
        refused: dict[int, str],
        *,
        final: Sequence[int] = (),
        dead_letter_after: int | None = None,
    ) -> None:
        """Advance a sink's offset; clear what it took, remember what it refused (one txn).

        A refusal that is `final`, or one that reached `dead_letter_after` attempts, becomes a
        dead letter: kept and shown, but not offered again until `revive` is called.
        """
        con = self.connection
        now = _now()
        con.execute(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            '"offset" = greatest(deliveries."offset", excluded."offset"), '
            "updated_at = excluded.updated_at",
            [workflow, sink, offset, now],
        )
        if delivered:
            acked = pa.table({"seq": pa.array(list(delivered), pa.int64())})
            with scanning(con, "acked", acked):
                con.execute(
                    "DELETE FROM pending_deliveries WHERE workflow = ? AND sink = ? "
                    "AND seq IN (SELECT seq FROM acked)",
                    [workflow, sink],
                )
        if refused:
            con.executemany(
                "INSERT INTO pending_deliveries VALUES (?, ?, ?, 1, ?, ?, ?, NULL) "
                "ON CONFLICT DO UPDATE SET attempts = pending_deliveries.attempts + 1, "
                "last_error = excluded.last_error, last_failed_at = excluded.last_failed_at",
                [[workflow, sink, seq, reason, now, now] for seq, reason in refused.items()],
            )
        if refused and (final or dead_letter_after is not None):
            con.execute(
                "UPDATE pending_deliveries SET dead_at = ? WHERE workflow = ? AND sink = ? "
                "AND dead_at IS NULL AND (list_contains(?, seq) OR attempts >= ?)",
                [now, workflow, sink, list(final), dead_letter_after or 2**31 - 1],
            )

    def revive(self, workflow: str, sink: str | None = None, seqs: Sequence[int] = ()) -> int:
        """Offer dead letters again on the next delivery; how many were revived."""
        con = self.connection
        where = "workflow = ? AND dead_at IS NOT NULL"
        params: list[Any] = [workflow]
        if sink is not None:
            where += " AND sink = ?"
            params.append(sink)
        if seqs:
            where += " AND list_contains(?, seq)"
            params.append(list(seqs))
        with self.transaction():
            count = int(
                _one(con.execute(f"SELECT count(*) FROM pending_deliveries WHERE {where}", params))
            )
            con.execute(
                f"UPDATE pending_deliveries SET dead_at = NULL, attempts = 0 WHERE {where}", params
            )
        return count

    def _changes(self, where: str, params: list[Any]) -> ChangeBatch:
        seqs = [
            row[0]
            for row in self.connection.execute(
                f"SELECT seq FROM changes WHERE {where}", params
            ).fetchall()
        ]
        workflow = params[0]

        def load() -> pa.Table:
            return self.connection.sql(
                f"{SELECT_CHANGES} "
                "WHERE workflow = $workflow AND seq IN (SELECT unnest($seqs)) ORDER BY seq",
                params={"workflow": workflow, "seqs": seqs},
            ).to_arrow_table()

        return ChangeBatch(seqs, load)

    def stage_changes(self, name: str, seqs: list[int]) -> None:
        """Copy change rows into a temp table `name` (payload as JSON), for a sink in this file."""
        self.connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {_CHANGE_COLUMNS}, "
            "payload AS payload_json FROM changes WHERE seq IN (SELECT unnest(?)) ORDER BY seq",
            [seqs],
        )

    # --- maintenance ----------------------------------------------------------------------

    def workflows(self) -> list[str]:
        rows = self.connection.execute("SELECT DISTINCT workflow FROM runs ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def prune(self, workflow: str, before: datetime) -> tuple[int, int]:
        """Forget a workflow's history from runs that started before `before`: (changes, runs).

        Kept whatever its age: the change that holds an entity's current payload, anything a
        sink has not yet taken or refused, and the workflow's latest run.
        """
        with self.transaction():
            self._remember_high_water()
            changes = self.connection.execute(
                "DELETE FROM changes c WHERE c.workflow = $w "
                "AND c.run_id IN (SELECT run_id FROM runs WHERE workflow = $w "
                "AND started_at < $before) "
                "AND NOT EXISTS (SELECT 1 FROM entities e "
                "WHERE e.workflow = $w AND e.last_seq = c.seq) "
                'AND c.seq <= (SELECT coalesce(min("offset"), 0) FROM deliveries '
                "WHERE workflow = $w) "
                "AND NOT EXISTS (SELECT 1 FROM pending_deliveries p "
                "WHERE p.workflow = $w AND p.seq = c.seq) RETURNING seq",
                {"w": workflow, "before": before},
            ).fetchall()
            runs = self.connection.execute(
                "DELETE FROM runs WHERE workflow = $w AND started_at < $before "
                "AND run_id < (SELECT max(run_id) FROM runs WHERE workflow = $w) "
                "AND run_id NOT IN (SELECT DISTINCT run_id FROM changes WHERE workflow = $w) "
                "RETURNING run_id",
                {"w": workflow, "before": before},
            ).fetchall()
            if runs:
                for table in ("run_streams", "violations"):
                    self.connection.execute(
                        f"DELETE FROM {table} WHERE run_id IN (SELECT unnest($ids))",
                        {"ids": [r[0] for r in runs]},
                    )
        return len(changes), len(runs)

    def _remember_high_water(self) -> None:
        """Seqs and run ids are never reused after rows go: sinks skip a seq already written."""
        self.connection.execute(
            "INSERT OR REPLACE INTO id_high_water SELECT name, greatest(used, coalesce("
            "(SELECT max(value) FROM id_high_water h WHERE h.name = u.name), 0)) FROM ("
            "SELECT 'seq' AS name, greatest(coalesce(max(seq), 0), ?) AS used FROM changes "
            "UNION ALL SELECT 'run_id', coalesce(max(run_id), 0) FROM runs) u",
            [self._next_seq - 1],
        )

    def reset(self, workflow: str) -> None:
        """Forget a workflow: its entities, changes, watermarks, deliveries and runs, and its
        rows in any catalog written into this file."""
        with self.transaction():
            self._remember_high_water()
            for table in (
                "pending_deliveries",
                "deliveries",
                "watermarks",
                "changes",
                "entities",
                "violations",
            ):
                self.connection.execute(f"DELETE FROM {table} WHERE workflow = ?", [workflow])
            self.connection.execute(
                "DELETE FROM run_streams WHERE run_id IN "
                "(SELECT run_id FROM runs WHERE workflow = ?)",
                [workflow],
            )
            self.connection.execute("DELETE FROM runs WHERE workflow = ?", [workflow])
            for schema, table in self.connection.execute(
                "SELECT table_schema, table_name FROM information_schema.columns "
                "WHERE table_schema NOT IN ('main', 'information_schema', 'pg_catalog') "
                "AND table_catalog = current_database() AND column_name = 'workflow'"
            ).fetchall():
                self.connection.execute(
                    f'DELETE FROM "{schema}"."{table}" WHERE workflow = ?', [workflow]
                )

    def ensure_sink(self, workflow: str, sink: str) -> None:
        """Give a sink its offset row before its first delivery, so its backlog shows."""
        self.connection.execute(
            "INSERT INTO deliveries VALUES (?, ?, 0, ?) ON CONFLICT DO NOTHING",
            [workflow, sink, _now()],
        )


def _migrate(connection: duckdb.DuckDBPyConnection, where: str, read_only: bool) -> None:
    tables = {
        r[0]
        for r in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    version, written_by = 0, None
    if "schema_version" in tables:
        row = _first(
            connection.execute(
                "SELECT version, syncer_version FROM schema_version ORDER BY version DESC LIMIT 1"
            )
        )
        version, written_by = (int(row[0]), row[1]) if row else (0, None)
    elif tables or read_only:
        raise StateError(
            f"{where} is a DuckDB file but not a syncer state file; point --state at another path"
        )
    if version > SCHEMA_VERSION:
        raise StateError(
            f"state file {where} was written by syncer {written_by} (schema {version}); this is "
            f"syncer {__version__} (schema {SCHEMA_VERSION}): upgrade syncer, or point --state "
            "at another file"
        )
    if version == SCHEMA_VERSION:
        return
    if read_only:
        raise StateError(
            f"state file {where} has schema {version}; run `syncer run` once to upgrade it"
        )
    connection.execute("BEGIN TRANSACTION")
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(version INTEGER, syncer_version VARCHAR, migrated_at TIMESTAMPTZ)"
        )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            connection.execute(script)
            connection.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", [number, __version__, _now()]
            )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextmanager
def scanning(connection: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """`table` visible to SQL as `name` for the block. DuckDB refuses to unregister inside an
    aborted transaction; that refusal must not hide the error that aborted it."""
    connection.register(name, table)
    try:
        yield
    finally:
        with suppress(duckdb.Error):
            connection.unregister(name)


def interrupted(exc: BaseException) -> bool:
    """Whether `exc` is Ctrl-C: DuckDB catches SIGINT during a query and raises its own error
    (an InterruptException, a RuntimeError from its Arrow path, or a wrapped KeyboardInterrupt)."""
    if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
        return True
    if isinstance(exc, RuntimeError) and str(exc) == "Query interrupted":
        return True
    # A KeyboardInterrupt raised while DuckDB scans a registered Arrow table comes back wrapped.
    return isinstance(exc, duckdb.Error) and "KeyboardInterrupt" in str(exc)


def _open_error(where: str, exc: duckdb.IOException) -> StateError:
    message = str(exc)
    holder = _LOCK_HOLDER.search(message)
    if holder:
        return StateLockedError(
            f"state file {where} is in use by another process (PID {holder.group(2)}): wait "
            "for that run to finish, or point --state at another file"
        )
    if "not a valid DuckDB database" in message or "database file" in message.lower():
        return StateError(
            f"{where} is not a syncer state file (it is not a DuckDB database, or it is damaged): "
            "move it away or point --state at another file"
        )
    return StateError(f"{where}: cannot open the state file ({message})")


def _one(result: duckdb.DuckDBPyConnection) -> Any:
    row = _first(result)
    return row[0] if row else None


def _first(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row, reading the result to its end: DuckDB refuses `register` and friends on a
    connection whose last result was left half-read (`fetchone` on a one-row result does that)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def _now() -> datetime:
    return datetime.now(UTC)
