"""The inbox: OpenLineage events as received, in a SQLite file that many processes share.

`syncer serve` appends to it while `syncer run` reads it, perhaps at the same moment: DuckDB
(the state) lets one process hold a file and no other even read it, so the inbox is SQLite in
WAL mode instead, where readers never wait for the writer and the writer never waits for
readers. Each request is appended in one short transaction, synced to disk before the receiver
answers (`synchronous=FULL`), so an event that was answered survives a crash.

An event is stored once: its digest (SHA-256 of its canonical JSON) is unique, so a client that
sends an event again after a timeout changes nothing. `seq` numbers the events in the order they
arrived; it is the openlineage source's cursor.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, Literal, cast, get_args

from syncer.errors import SourceError

__all__ = [
    "ENDED",
    "EventKind",
    "Inbox",
    "InboxEvent",
    "digest_of",
    "kind_of",
    "parse_event_time",
]

EventKind = Literal["run", "job", "dataset"]
ENDED = ("COMPLETE", "FAIL", "ABORT")
"""RunEvent types that end a run."""

# "SYOL" in PRAGMA application_id marks a file as an inbox, so that a wrong path (the DuckDB
# state, another SQLite database) is refused instead of written to.
_APPLICATION_ID = 0x53594F4C
_SCHEMA_VERSION = 1
_BUSY_TIMEOUT_MS = 10_000
# Runs whose events one query reads: bounds memory while the source walks a large backlog.
_RUNS_PER_QUERY = 200
_DIGESTS_PER_QUERY = 500

_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT UNIQUE NOT NULL,
    received_at TEXT,
    kind TEXT,
    event_type TEXT,
    event_time TEXT,
    job_namespace TEXT,
    job_name TEXT,
    run_id TEXT,
    body TEXT
);
CREATE INDEX events_run_id ON events (run_id);
CREATE INDEX events_job ON events (job_namespace, job_name);
"""
_COLUMNS = "seq, received_at, kind, event_type, event_time, job_namespace, job_name, run_id, body"


@dataclass(frozen=True, slots=True)
class InboxEvent:
    seq: int
    """The inbox's own order, 1, 2, …: the source's cursor."""
    received_at: datetime
    """When the receiver stored it, in UTC."""
    kind: EventKind
    event_type: str | None
    """RunEvent.eventType: START, RUNNING, COMPLETE, FAIL, ABORT, OTHER; None for the others."""
    event_time: datetime
    job_namespace: str | None
    job_name: str | None
    run_id: str | None
    body: dict[str, Any]
    """The event as received (parsed JSON)."""


def kind_of(event: dict[str, Any]) -> EventKind:
    """Which of OpenLineage's three events this is, by the member only that event has."""
    if "run" in event:
        return "run"
    if "dataset" in event:
        return "dataset"
    if "job" in event:
        return "job"
    raise ValueError("not an OpenLineage event: it has none of run, job, dataset")


def digest_of(event: dict[str, Any]) -> str:
    """SHA-256 of the event's canonical JSON (sorted keys, no spaces): equal events, equal
    digests, whatever order their keys arrived in."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class Inbox:
    """One inbox file; safe to share between threads (each call takes the connection in turn)."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        if not path.exists() and not create:
            raise SourceError(
                f"inbox {path} does not exist: start `syncer serve` to create it, or fix the "
                "path (source.config.inbox)"
            )
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Autocommit mode: transactions are the explicit BEGIN IMMEDIATE of `append`.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._prepare(create)
        except sqlite3.DatabaseError:
            self._db.close()
            raise SourceError(
                f"{path} is not an inbox (not a SQLite file that `syncer serve` wrote): point "
                "the inbox at another path"
            ) from None

    def _prepare(self, create: bool) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        if create and _application_id(db) == 0:
            _create_if_empty(db)
        if _application_id(db) != _APPLICATION_ID:
            raise sqlite3.DatabaseError("not an inbox")
        # Only now that the file is known to be an inbox: WAL would change any SQLite file.
        db.execute("PRAGMA journal_mode = WAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            db.close()
            raise SourceError(
                f"inbox {self.path} has schema {version}, newer than this syncer's "
                f"{_SCHEMA_VERSION}: upgrade syncer, or point the inbox at another path"
            )
        # Answered means on disk: the receiver replies only after `append` returned.
        db.execute("PRAGMA synchronous = FULL")

    def append(self, events: Sequence[dict[str, Any]]) -> int:
        """Store events in one transaction; returns how many were new (a stored one is
        ignored)."""
        received_at = _text(datetime.now(UTC))
        rows = dict(_row(event, received_at) for event in events)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                # Known events are left out before the insert, not ignored by it: an ignored
                # insert would still use up a seq, and the inbox's numbers would have gaps.
                stored = self._stored(rows)
                new = [row for digest, row in rows.items() if digest not in stored]
                self._db.executemany(
                    "INSERT OR IGNORE INTO events (digest, received_at, kind, event_type, "
                    "event_time, job_namespace, job_name, run_id, body) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    new,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(new)

    def _stored(self, digests: Iterable[str]) -> set[str]:
        """Which of these digests the inbox holds (within the caller's transaction)."""
        wanted = list(digests)
        found: set[str] = set()
        for start in range(0, len(wanted), _DIGESTS_PER_QUERY):
            chunk = wanted[start : start + _DIGESTS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT digest FROM events WHERE digest IN ({marks})"
            found.update(row[0] for row in self._db.execute(query, chunk))
        return found

    def last_seq(self) -> int:
        """The highest `seq` stored; 0 for an empty inbox."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    def runs_touched_since(self, seq: int) -> Iterator[list[InboxEvent]]:
        """Every event of each run that has an event after `seq`, a list per run in event time
        (then seq) order; runs in the order of their first event. Events that arrive while
        this iterates are left for the next call."""
        with self._lock:
            upper = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            runs = [
                row[0]
                for row in self._db.execute(
                    "SELECT run_id FROM events WHERE run_id IN "
                    "(SELECT DISTINCT run_id FROM events WHERE seq > ? AND run_id IS NOT NULL) "
                    "AND seq <= ? GROUP BY run_id ORDER BY MIN(seq)",
                    (seq, upper),
                )
            ]
        for start in range(0, len(runs), _RUNS_PER_QUERY):
            chunk = runs[start : start + _RUNS_PER_QUERY]
            order = {run_id: position for position, run_id in enumerate(chunk)}
            marks = ", ".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM events WHERE run_id IN ({marks}) AND seq <= ? "
                    "ORDER BY event_time, seq",
                    (*chunk, upper),
                ).fetchall()
            rows.sort(key=lambda row: order[row[7]])  # stable: keeps time order within a run
            for _, run_rows in groupby(rows, key=lambda row: row[7]):
                yield [_event(row) for row in run_rows]

    def job_runs(self, job_namespace: str, job_name: str, last: int) -> list[list[InboxEvent]]:
        """The events of a job's `last` most recent ended runs (COMPLETE, FAIL or ABORT), newest
        run first, each run's events in event time order."""
        with self._lock:
            rows = self._db.execute(
                f"WITH ended AS (SELECT run_id, MAX(event_time) AS ended_at, MAX(seq) AS last_seq "
                "FROM events WHERE job_namespace = ? AND job_name = ? AND run_id IS NOT NULL "
                f"AND event_type IN ({', '.join('?' * len(ENDED))}) GROUP BY run_id "
                "ORDER BY ended_at DESC, last_seq DESC LIMIT ?) "
                f"SELECT {', '.join('e.' + c for c in _COLUMNS.split(', '))} "
                "FROM events AS e JOIN ended USING (run_id) "
                "ORDER BY ended.ended_at DESC, ended.last_seq DESC, e.event_time, e.seq",
                (job_namespace, job_name, *ENDED, last),
            ).fetchall()
        return [
            [_event(row) for row in run_rows] for _, run_rows in groupby(rows, key=lambda r: r[7])
        ]

    def jobs(self) -> list[tuple[str, str]]:
        """Every (namespace, name) of a job that an event names, sorted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT job_namespace, job_name FROM events "
                "WHERE job_namespace IS NOT NULL AND job_name IS NOT NULL "
                "ORDER BY job_namespace, job_name"
            ).fetchall()
        return [(namespace, name) for namespace, name in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _application_id(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA application_id").fetchone()[0])


def _create_if_empty(db: sqlite3.Connection) -> None:
    """Create the tables in one transaction, unless another process just did."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _row(event: dict[str, Any], received_at: str) -> tuple[str, tuple[str | None, ...]]:
    """The event's digest, and its row."""
    kind = kind_of(event)
    job = event.get("job") or {}
    run = event.get("run") or {}
    digest = digest_of(event)
    return digest, (
        digest,
        received_at,
        kind,
        event.get("eventType") if kind == "run" else None,
        _text(parse_event_time(event.get("eventTime"))),
        job.get("namespace"),
        job.get("name"),
        run.get("runId"),
        json.dumps(event, ensure_ascii=False, separators=(",", ":")),
    )


def parse_event_time(value: Any) -> datetime:
    """An eventTime in UTC; ValueError if it is not an ISO 8601 date and time."""
    if not isinstance(value, str):
        raise ValueError(f"eventTime {value!r} is not an ISO 8601 date and time")
    moment = datetime.fromisoformat(value)
    # A time without an offset is taken as UTC, as OpenLineage's clients write it.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(moment: datetime) -> str:
    """A fixed-width UTC text, so that SQLite's text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(row: tuple[Any, ...]) -> InboxEvent:
    seq, received_at, kind, event_type, event_time, namespace, name, run_id, body = row
    if kind not in get_args(EventKind):
        raise SourceError(f"inbox event {seq} has kind {kind!r}: the inbox is damaged")
    return InboxEvent(
        seq=seq,
        received_at=datetime.fromisoformat(received_at),
        kind=cast(EventKind, kind),
        event_type=event_type,
        event_time=datetime.fromisoformat(event_time),
        job_namespace=namespace,
        job_name=name,
        run_id=run_id,
        body=json.loads(body),
    )
