"""Time travel: entities as they were at the end of any run, rebuilt from the change log.

Every change row keeps the entity's whole canonical payload (a deletion keeps its last one),
so the version of a key as of run R is its last change with `run_id <= R`: runs write a file
one at a time, so run ids order the log as seqs do. An entity existed then unless that change
was a deletion. The SQL of a whole state lives in the `entities_as_of` table macro (schema v7);
the functions here read one key's history, or page through what changed between two runs.

Read-only, like `changelog`: any connection will do. After `syncer state prune` the log
starts at the oldest change kept, so a run older than that is answered only in part.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import duckdb
import orjson

from syncer.state.connection import one
from syncer.state.records import ChangeKind

Item = TypeVar("Item")
# What an entity underwent between two runs, judged by its versions at each end.
DifferenceKind = Literal["created", "restored", "updated", "deleted"]

_VERSION_COLUMNS = (
    "c.workflow, c.stream, c.key, c.entity_type, c.run_id, c.seq, c.kind, c.fingerprint, "
    "c.payload::VARCHAR, c.committed_at"
)


@dataclass(frozen=True, slots=True)
class Version:
    """One change in an entity's history: the entity as it was from this change on."""

    workflow: str
    stream: str
    key: str
    entity_type: str
    run_id: int  # the run that wrote this version
    seq: int
    kind: ChangeKind
    fingerprint: str | None
    payload_json: str  # canonical JSON; for a deletion, the entity as it was last seen
    committed_at: datetime | None  # None for changes written before state schema v3

    @property
    def live(self) -> bool:
        """Whether the entity existed in this version (every kind but a deletion)."""
        return self.kind != "deleted"

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.payload_json)
        return value


@dataclass(frozen=True, slots=True)
class Difference:
    """An entity whose state differs between two runs: its last version as of each one (None
    when it had no change yet), of which at least one is live."""

    before: Version | None
    after: Version

    @property
    def kind(self) -> DifferenceKind:
        if self.before is None or not self.before.live:
            return "created" if self.before is None else "restored"
        return "updated" if self.after.live else "deleted"


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    """Up to `limit` items from `offset` on, and whether more follow."""

    items: list[Item]
    offset: int
    more: bool

    @classmethod
    def read(cls, rows: list[Item], offset: int, limit: int) -> Page[Item]:
        """A page from `limit + 1` rows read: the extra one only says that more follow."""
        return cls(rows[:limit], offset, len(rows) > limit)


# --- runs -------------------------------------------------------------------------------------


def run_workflow(connection: duckdb.DuckDBPyConnection, run_id: int) -> str | None:
    """The workflow of a run the file knows; None for a run it never had (or pruned)."""
    found = one(connection.execute("SELECT workflow FROM runs WHERE run_id = ?", [run_id]))
    return None if found is None else str(found)


def run_ended_by(connection: duckdb.DuckDBPyConnection, moment: datetime) -> int | None:
    """The last run that ended at or before `moment` (of any workflow: runs write a file one
    at a time); None if none had."""
    found = one(connection.execute("SELECT max(run_id) FROM runs WHERE ended_at <= ?", [moment]))
    return None if found is None else int(found)


def run_span(connection: duckdb.DuckDBPyConnection) -> tuple[int, int] | None:
    """The first and last run ids the file holds, to name in an error; None without runs."""
    rows = connection.execute("SELECT min(run_id), max(run_id) FROM runs").fetchall()
    low, high = rows[0]
    return None if low is None else (int(low), int(high))


# --- one entity -------------------------------------------------------------------------------


def entity_as_of(
    connection: duckdb.DuckDBPyConnection,
    key: str,
    run_id: int | None = None,
    workflow: str | None = None,
) -> list[Version]:
    """The last version of `key` as of the end of `run_id` (None: now), one per workflow and
    stream that holds the key (usually one); a deletion too, so that it can be told apart from
    a key that never existed. Empty when no change of it had been committed by then."""
    rows = connection.execute(
        f"SELECT {_VERSION_COLUMNS} FROM changes c "
        "WHERE c.key = $key AND ($run IS NULL OR c.run_id <= $run) "
        "AND ($workflow IS NULL OR c.workflow = $workflow) "
        "QUALIFY row_number() OVER (PARTITION BY c.workflow, c.stream ORDER BY c.seq DESC) = 1 "
        "ORDER BY c.workflow, c.stream",
        {"key": key, "run": run_id, "workflow": workflow},
    ).fetchall()
    return [Version(*row) for row in rows]


def entity_versions(
    connection: duckdb.DuckDBPyConnection,
    key: str,
    workflow: str | None = None,
    *,
    offset: int = 0,
    limit: int = 100,
) -> Page[Version]:
    """Every version of `key` the log holds, oldest first, each with the run that wrote it."""
    rows = connection.execute(
        f"SELECT {_VERSION_COLUMNS} FROM changes c "
        "WHERE c.key = $key AND ($workflow IS NULL OR c.workflow = $workflow) "
        "ORDER BY c.seq LIMIT $limit OFFSET $offset",
        {"key": key, "workflow": workflow, "limit": limit + 1, "offset": offset},
    ).fetchall()
    return Page.read([Version(*row) for row in rows], offset, limit)


def similar_keys(
    connection: duckdb.DuckDBPyConnection, key: str, workflow: str | None = None, limit: int = 3
) -> list[str]:
    """The keys the file holds (deleted ones too) closest to `key`, for "did you mean": a few
    edits away (a typo, a missing quote, another case), among the keys under the same parent
    (its FQN up to the last dot) and of about its length. FQNs share long prefixes, so a
    similarity ratio would find every sibling close; and comparing every key of a
    100,000-entity state took 15 s, where the siblings of a typo take milliseconds."""
    parent = key.rsplit(".", 1)[0] + "." if "." in key else ""
    rows = connection.execute(
        "SELECT key FROM (SELECT DISTINCT key FROM entities "
        "WHERE starts_with(lower(key), lower($parent)) AND abs(length(key) - length($key)) <= 3 "
        "AND ($workflow IS NULL OR workflow = $workflow) LIMIT 5000) "
        "WHERE damerau_levenshtein(lower(key), lower($key)) <= greatest(2, length($key) // 10) "
        "ORDER BY damerau_levenshtein(lower(key), lower($key)), key LIMIT $limit",
        {"parent": parent, "key": key, "workflow": workflow, "limit": limit},
    ).fetchall()
    return [str(row[0]) for row in rows]


# --- a whole state ----------------------------------------------------------------------------


def entities_as_of(
    connection: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    workflow: str | None = None,
    pattern: str | None = None,
    offset: int = 0,
    limit: int = 1000,
) -> Page[Version]:
    """The entities that existed at the end of `run_id`, each in the version it had then, by
    workflow and key; `pattern` keeps the keys that match it (a glob: `*`, `?`)."""
    rows = connection.execute(
        f"SELECT {_VERSION_COLUMNS} FROM ("
        "SELECT workflow, fqn, seq FROM entities_as_of($run) "
        "WHERE ($workflow IS NULL OR workflow = $workflow) "
        "AND ($pattern IS NULL OR fqn GLOB $pattern) "
        "ORDER BY workflow, fqn, seq LIMIT $limit OFFSET $offset"
        ") a JOIN changes c USING (seq) ORDER BY a.workflow, a.fqn, a.seq",
        {
            "run": run_id,
            "workflow": workflow,
            "pattern": pattern,
            "limit": limit + 1,
            "offset": offset,
        },
    ).fetchall()
    return Page.read([Version(*row) for row in rows], offset, limit)


def changed_between(
    connection: duckdb.DuckDBPyConnection,
    from_run: int,
    to_run: int,
    *,
    workflow: str | None = None,
    pattern: str | None = None,
    offset: int = 0,
    limit: int = 1000,
) -> Page[Difference]:
    """The entities whose state at the end of `to_run` differs from the one at the end of
    `from_run`, however many runs changed them in between, by workflow and key: created,
    restored, deleted, or updated (the fingerprints differ). One changed and changed back, or
    created and deleted in between, is not listed."""
    rows = connection.execute(
        f"""
        WITH touched AS (
            SELECT DISTINCT workflow, stream, key FROM changes
            WHERE run_id > $since_run AND run_id <= $until_run
              AND ($workflow IS NULL OR workflow = $workflow)
              AND ($pattern IS NULL OR key GLOB $pattern)
        ),
        ends AS (
            SELECT c.workflow, c.stream, c.key,
                   max(c.seq) FILTER (WHERE c.run_id <= $since_run) AS before_seq,
                   max(c.seq) AS after_seq
            FROM changes c SEMI JOIN touched t
              ON t.workflow = c.workflow AND t.stream = c.stream AND t.key = c.key
            WHERE c.run_id <= $until_run
            GROUP BY ALL
        ),
        differing AS (
            SELECT e.* FROM ends e
            LEFT JOIN changes b ON b.seq = e.before_seq
            JOIN changes a ON a.seq = e.after_seq
            WHERE (b.seq IS NULL AND a.kind <> 'deleted')
               OR (b.seq IS NOT NULL AND (b.kind = 'deleted') <> (a.kind = 'deleted'))
               OR (b.kind <> 'deleted' AND a.kind <> 'deleted'
                   AND b.fingerprint IS DISTINCT FROM a.fingerprint)
            ORDER BY e.workflow, e.key, e.stream LIMIT $limit OFFSET $offset
        )
        SELECT {_VERSION_COLUMNS.replace("c.", "b.")}, {_VERSION_COLUMNS.replace("c.", "a.")}
        FROM differing d
        LEFT JOIN changes b ON b.seq = d.before_seq
        JOIN changes a ON a.seq = d.after_seq
        ORDER BY d.workflow, d.key, d.stream
        """,
        {
            "since_run": from_run,
            "until_run": to_run,
            "workflow": workflow,
            "pattern": pattern,
            "limit": limit + 1,
            "offset": offset,
        },
    ).fetchall()
    width = len(fields(Version))
    differences = [
        Difference(None if row[0] is None else Version(*row[:width]), Version(*row[width:]))
        for row in rows
    ]
    return Page.read(differences, offset, limit)
