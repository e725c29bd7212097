"""The fleet: every workflow of many state files at once, read without the configs.

Each finished run leaves a summary beside its state file (`state.duckdb` →
`state.duckdb.summary.json`): the last run of every workflow the file holds, as `fleet status`
reads it from the file itself. Readers never block, tear or write a running workflow's file:
each file is opened read-only for as long as its queries take, and one that a run holds
(DuckDB's file lock, the state's one-writer rule) is `busy`, shown from its summary.

    state_files      the files that glob patterns (with `**`) name
    read_fleet       each file's status: read, busy (from its summary) or unreadable (why)
    leave_summary    the summary beside a state file, written by the run that ends
    attach_fleet     one DuckDB connection over many files, the state's views unioned
    fleet_registry   the per-run metrics of every workflow, for a node exporter
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import orjson
import structlog

from syncer import __version__
from syncer.files import replace_atomically
from syncer.secrets import redact
from syncer.state import (
    MEMORY,
    SCHEMA_VERSION,
    VIEWS,
    Counters,
    StateError,
    StateStore,
    state_error,
)
from syncer.state.connection import check_header

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = structlog.get_logger("syncer.fleet")

SUMMARY_SUFFIX = ".summary.json"
SUMMARY_FORMAT = 1  # raised when a field changes meaning; fields are only ever added
# The fleet view's queries need `runs.refused` (schema 6); an older file is upgraded by a run.
OLDEST_READ = 6
_SINGLE_FIX = "point --state at another file, or move it away"
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in .+? \(PID (\d+)\)")
Access = Literal["read", "busy", "unreadable"]
COUNTERS = Counters.FIELDS


# --- one workflow's status --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SinkStatus:
    sink: str
    backlog: int  # changes the sink has not taken yet: the next run offers them
    dead_letters: int  # changes it gave up on: offered again only once revived


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """A workflow's last run and what its sinks still owe. The names of the fields it shares
    with a run's document (`syncer/schemas/run.schema.json`) are that document's."""

    workflow: str
    run_id: int
    status: str  # succeeded, partial, failed, interrupted, crashed
    started_at: datetime
    ended_at: datetime | None
    last_success_at: datetime | None
    total: dict[str, int]
    streams: dict[str, dict[str, int]]
    sinks: tuple[SinkStatus, ...]
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)

    @property
    def backlog(self) -> int:
        return sum(s.backlog for s in self.sinks)

    @property
    def dead_letters(self) -> int:
        return sum(s.dead_letters for s in self.sinks)

    def document(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "run_id": self.run_id,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "duration_seconds": self.duration_seconds,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "total": self.total,
            "refused_deletions": self.total.get("refused", 0),
            "streams": self.streams,
            "sinks": [
                {"sink": s.sink, "backlog": s.backlog, "dead_letters": s.dead_letters}
                for s in self.sinks
            ],
            "error": self.error,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> WorkflowStatus:
        return cls(
            workflow=document["workflow"],
            run_id=int(document["run_id"]),
            status=document["status"],
            started_at=datetime.fromisoformat(document["started_at"]),
            ended_at=_when(document.get("ended_at")),
            last_success_at=_when(document.get("last_success_at")),
            total={k: int(v) for k, v in document["total"].items()},
            streams={
                name: {k: int(v) for k, v in counters.items()}
                for name, counters in document.get("streams", {}).items()
            },
            sinks=tuple(
                SinkStatus(s["sink"], int(s["backlog"]), int(s["dead_letters"]))
                for s in document.get("sinks", [])
            ),
            error=document.get("error"),
        )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_LAST_RUNS = f"""
SELECT workflow, run_id, status, started_at, ended_at,
       (SELECT max(s.ended_at) FROM runs s
        WHERE s.workflow = r.workflow AND s.status = 'succeeded') AS last_success_at,
       error, {", ".join(COUNTERS)}
FROM runs r
QUALIFY row_number() OVER (PARTITION BY workflow ORDER BY run_id DESC) = 1
ORDER BY workflow
"""
_LAST_STREAMS = f"""
SELECT run_id, stream, {", ".join(COUNTERS)} FROM run_streams
WHERE run_id IN (SELECT max(run_id) FROM runs GROUP BY workflow)
ORDER BY run_id, stream
"""
# `sink_backlog.refused` counts dead letters too; here they are apart from what is retried.
_SINKS = """
SELECT b.workflow, b.sink, b.backlog + b.refused - coalesce(d.dead, 0), coalesce(d.dead, 0)
FROM sink_backlog b
LEFT JOIN (SELECT workflow, sink, count(*) AS dead FROM pending_deliveries
           WHERE dead_at IS NOT NULL GROUP BY ALL) d USING (workflow, sink)
ORDER BY b.workflow, b.sink
"""


def workflow_statuses(connection: duckdb.DuckDBPyConnection) -> list[WorkflowStatus]:
    """The last run of every workflow in a state file, and its sinks. A run still `running` has
    no process behind it: a reader could not have opened the file while one held it, and the
    run that writes a summary has recorded its own end first. It is shown `crashed`, as the
    next run of its workflow will mark it."""
    streams: dict[int, dict[str, dict[str, int]]] = {}
    for run_id, stream, *counts in connection.execute(_LAST_STREAMS).fetchall():
        streams.setdefault(run_id, {})[stream] = _counters(counts)
    sinks: dict[str, list[SinkStatus]] = {}
    for workflow, sink, backlog, dead in connection.execute(_SINKS).fetchall():
        sinks.setdefault(workflow, []).append(SinkStatus(sink, int(backlog), int(dead)))
    found = []
    for row in connection.execute(_LAST_RUNS).fetchall():
        workflow, run_id, status, started, ended, success, error, *counts = row
        if status == "running":
            status = "crashed"
        found.append(
            WorkflowStatus(
                workflow,
                int(run_id),
                status,
                started,
                ended,
                success,
                _counters(counts),
                streams.get(run_id, {}),
                tuple(sinks.get(workflow, ())),
                error,
            )
        )
    return found


def _counters(values: Sequence[Any]) -> dict[str, int]:
    return {name: int(v or 0) for name, v in zip(COUNTERS, values, strict=True)}


# --- the summary beside a state file ----------------------------------------------------------


def summary_path(state_path: Path | str) -> Path:
    """Where the summary of the state file at `state_path` is: beside it, named after it."""
    path = Path(state_path)
    return path.with_name(path.name + SUMMARY_SUFFIX)


def summary_document(store: StateStore, workflow: str, run_id: int) -> dict[str, Any]:
    """What the run `run_id` of `workflow` leaves beside the state file it just wrote: the
    status of every workflow in the file, as `fleet status` would read it there."""
    return {
        "format": SUMMARY_FORMAT,
        "syncer_version": __version__,
        "state_schema": SCHEMA_VERSION,
        "state_file": Path(store.path).name,
        "written_at": datetime.now(UTC).isoformat(),
        "written_by": {"workflow": workflow, "run_id": run_id},
        "workflows": [s.document() for s in workflow_statuses(store.connection)],
    }


def leave_summary(store: StateStore, workflow: str, run_id: int) -> Path | None:
    """Write the summary beside `store`'s file; where it went. Never raises: the run's outcome
    is already recorded, and a summary that cannot be written (a full disk, a read-only
    folder) is a warning that leaves the previous one in place."""
    if store.path == MEMORY or store.read_only:
        return None
    target = summary_path(store.path)
    try:
        document = summary_document(store, workflow, run_id)
        replace_atomically(target, orjson.dumps(document, option=orjson.OPT_INDENT_2))
    except Exception as exc:
        log.warning(
            "the run's summary was not written; `syncer fleet status` shows the file's last "
            "one while a run holds it",
            path=str(target),
            error=redact(f"{type(exc).__name__}: {exc}"),
        )
        return None
    return target


def read_summary(state_path: Path) -> tuple[datetime, list[WorkflowStatus]] | None:
    """When the summary beside `state_path` was written, and the statuses it holds; None if
    there is none, or it is not one this syncer reads."""
    try:
        document = orjson.loads(summary_path(state_path).read_bytes())
        if document.get("format") != SUMMARY_FORMAT:
            return None
        statuses = [WorkflowStatus.from_document(d) for d in document["workflows"]]
        return datetime.fromisoformat(document["written_at"]), statuses
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# --- many state files -------------------------------------------------------------------------


def state_files(patterns: Iterable[str]) -> list[Path]:
    """The files the glob patterns name (`**` crosses folders), each once, in order: a
    pattern's matches sorted, patterns in the order given."""
    seen: set[Path] = set()
    found: list[Path] = []
    for pattern in patterns:
        for match in sorted(glob.glob(os.path.expanduser(pattern), recursive=True)):
            path = Path(match)
            key = path.resolve()
            if path.is_file() and not path.name.endswith(SUMMARY_SUFFIX) and key not in seen:
                seen.add(key)
                found.append(path)
    return found


@dataclass(frozen=True, slots=True)
class FileStatus:
    """One state file: `read`; `busy` (a run holds it: its workflows come from the summary
    written at `summary_at`, if there is one); or `unreadable`, and `reason` says why."""

    path: Path
    access: Access
    workflows: list[WorkflowStatus] = field(default_factory=list)
    reason: str | None = None
    summary_at: datetime | None = None


def read_fleet(paths: Iterable[Path], *, memory_limit: str = "256MB") -> Iterator[FileStatus]:
    """Each file's status, in order. One DuckDB connection attaches each file read-only in
    turn, only while its queries run (a new connection per file cost several times more), so
    that a run starting meanwhile finds at most one file held, for milliseconds."""
    connection = _connection(memory_limit)
    try:
        for path in paths:
            yield _read_attached(connection, path)
    finally:
        connection.close()


def read_file(path: Path) -> FileStatus:
    """The status of the state file at `path`, read-only; never raises for the file's sake."""
    return next(read_fleet([path]))


_READING = "fleet_file"


def _read_attached(connection: duckdb.DuckDBPyConnection, path: Path) -> FileStatus:
    skipped = _attach(connection, path, _READING)
    if skipped is not None and skipped.access == "busy":
        summary = read_summary(path)
        if summary is None:
            return FileStatus(path, "busy", reason=f"{skipped.reason}; no summary beside it yet")
        written_at, statuses = summary
        return FileStatus(path, "busy", statuses, skipped.reason, written_at)
    if skipped is not None:
        return FileStatus(path, "unreadable", reason=skipped.reason)
    try:
        connection.execute(f"USE {_READING}")  # the queries name the state's tables unqualified
        return FileStatus(path, "read", workflow_statuses(connection))
    except duckdb.Error as exc:  # a damaged block met by a query
        return FileStatus(path, "unreadable", reason=_unreadable(path, exc))
    finally:
        connection.execute("USE memory")
        connection.execute(f"DETACH {_READING}")


def _connection(memory_limit: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection to attach state files to. It never loads an extension:
    DuckDB would fetch one to read a file of another kind (a SQLite database)."""
    return duckdb.connect(
        MEMORY,
        config={
            "memory_limit": memory_limit,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )


def schema_problem(connection: duckdb.DuckDBPyConnection, path: Path, alias: str) -> str | None:
    """Why the file attached as `alias` cannot be read here, or None: it is not a state file,
    or its schema is older than the fleet view reads (a run of this syncer upgrades it) or
    newer than this syncer knows."""
    try:
        row = connection.execute(f"SELECT max(version) FROM {alias}.schema_version").fetchone()
    except duckdb.CatalogException:
        return f"{path} is a DuckDB file but not a syncer state file: leave it out of --states"
    schema = int(row[0]) if row and row[0] is not None else 0
    if schema < OLDEST_READ:
        return (
            f"{path} has state schema {schema}; the fleet view reads {OLDEST_READ} and later: "
            "run its workflow once with this syncer to upgrade it"
        )
    if schema > SCHEMA_VERSION:
        return (
            f"{path} has state schema {schema}, newer than this syncer's ({SCHEMA_VERSION}): "
            "upgrade syncer"
        )
    return None


def _unreadable(path: Path, exc: duckdb.Error) -> str:
    damage = state_error(str(path), exc)
    if damage is not None:
        return str(damage)
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{path}: cannot read it ({first}); check it with `syncer state check`"


# --- SQL over the fleet -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Skipped:
    path: Path
    access: Access
    reason: str


def attach_fleet(
    paths: Sequence[Path], *, memory_limit: str = "256MB", views: Collection[str] = tuple(VIEWS)
) -> tuple[duckdb.DuckDBPyConnection, list[Path], list[Skipped]]:
    """An in-memory DuckDB connection with every readable file in `paths` attached read-only,
    and a view per documented state view (`run_summary`, `change_log`, ...) that unions it over
    them by name, with a `state_file` column first (`views`: only these); the files attached,
    and those skipped.

    One connection holds every file: DuckDB shares one buffer pool and `memory_limit` among
    them, and keeps a file handle open per file (1,000 files need a limit on open files above
    1,000). Nothing in the files is read until a query needs it."""
    _room_for(len(paths))
    connection = _connection(memory_limit)
    attached: list[tuple[str, Path]] = []
    skipped: list[Skipped] = []
    for path in paths:
        alias = f"state_{len(attached) + 1}"
        problem = _attach(connection, path, alias)
        if problem is None:
            attached.append((alias, path))
        else:
            skipped.append(problem)
    for view in views:
        connection.execute(f"CREATE TEMP VIEW {view} AS {union_sql(view, attached)}")
    # Read-only goes for the files; this keeps a query from reading or writing any other file
    # (and from attaching one), and the setting from being turned back.
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection, [path for _, path in attached], skipped


def views_named(query: str) -> list[str]:
    """The state's views that `query` names. Each union view costs memory per file it spans
    (DuckDB binds it when it is made): over 1,000 files, only those a query needs are made."""
    return [view for view in VIEWS if re.search(rf"\b{view}\b", query, re.IGNORECASE)]


def union_sql(view: str, attached: Sequence[tuple[str, Path]]) -> str:
    """`view` of every attached file, unioned by column name (a file of an older schema lacks
    the columns added since: they are NULL there), with the file's path as `state_file`."""
    if not attached:
        return "SELECT NULL::VARCHAR AS state_file WHERE false"
    return " UNION ALL BY NAME ".join(
        f"SELECT {_literal(str(path))} AS state_file, * FROM {alias}.main.{view}"
        for alias, path in attached
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attach(connection: duckdb.DuckDBPyConnection, path: Path, alias: str) -> Skipped | None:
    """Attach one file read-only as `alias`; why it was skipped if it was."""
    try:
        check_header(str(path))  # before DuckDB: it would try an extension for a SQLite file
        connection.execute(f"ATTACH {_literal(str(path))} AS {alias} (READ_ONLY)")
    except StateError as exc:  # not a DuckDB file: its fix for a fleet is another pattern
        reason = str(exc).replace(_SINGLE_FIX, "leave it out of --states, or move it away")
        return Skipped(path, "unreadable", reason)
    except duckdb.Error as exc:
        holder = _LOCK_HOLDER.search(str(exc))
        if holder is not None:
            reason = f"state file {path} is busy: a run holds it (PID {holder.group(1)})"
            return Skipped(path, "busy", reason)
        return Skipped(path, "unreadable", _unreadable(path, exc))
    try:
        problem = schema_problem(connection, path, alias)
    except duckdb.Error as exc:
        problem = _unreadable(path, exc)
    if problem is not None:
        connection.execute(f"DETACH {alias}")
        return Skipped(path, "unreadable", problem)
    return None


def _room_for(files: int) -> None:
    """DuckDB keeps a file handle open per attached file: raise this process's limit on open
    files (to the hard limit, which needs no privilege) when it is too low for them all."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = files + 256  # and what the interpreter and DuckDB hold besides
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# --- metrics ----------------------------------------------------------------------------------


def fleet_registry(files: Sequence[FileStatus]) -> CollectorRegistry:
    """The per-run metrics of `syncer.metrics` for every workflow of every file (labels
    `workflow` and `state_file`), and whether each file could be read."""
    from prometheus_client import CollectorRegistry, Gauge

    from syncer.metrics import ENTITY_KINDS, LAST_SUCCESS, STATUSES

    registry = CollectorRegistry(auto_describe=True)
    base = ["workflow", "state_file"]

    def gauge(name: str, doc: str, *extra: str) -> Gauge:
        return Gauge(name, doc, [*base, *extra], registry=registry)

    readable = Gauge(
        "syncer_fleet_state_file_readable",
        "1 if the state file was read (or is busy and has a summary), 0 if not.",
        ["state_file"],
        registry=registry,
    )
    busy = Gauge(
        "syncer_fleet_state_file_busy",
        "1 if a run held the state file when the fleet was read.",
        ["state_file"],
        registry=registry,
    )
    success = gauge(LAST_SUCCESS, "When the last succeeded run ended.")
    last = gauge("syncer_last_run_timestamp_seconds", "When the last run ended.")
    duration = gauge("syncer_run_duration_seconds", "How long the last run took.")
    status = gauge(
        "syncer_last_run_status", "1 for the last run's status, 0 for the others.", "status"
    )
    entities = gauge(
        "syncer_entities_total",
        "Entities of the last run, by stream and outcome.",
        "stream",
        "kind",
    )
    refused = gauge(
        "syncer_deletions_refused_total", "Deletions the fail-safe held back in the last run."
    )
    backlog = gauge(
        "syncer_sink_backlog", "Changes a sink has not taken yet; the next run sends them.", "sink"
    )
    dead = gauge("syncer_sink_dead_letters", "Changes a sink gave up on, until revived.", "sink")
    for file in files:
        shown = str(file.path)
        readable.labels(state_file=shown).set(0 if file.access == "unreadable" else 1)
        busy.labels(state_file=shown).set(1 if file.access == "busy" else 0)
        for flow in file.workflows:
            labels = {"workflow": flow.workflow, "state_file": shown}
            if flow.last_success_at is not None:
                success.labels(**labels).set(flow.last_success_at.timestamp())
            if flow.ended_at is not None:
                last.labels(**labels).set(flow.ended_at.timestamp())
            if flow.duration_seconds is not None:
                duration.labels(**labels).set(flow.duration_seconds)
            for name in (*STATUSES, "crashed"):
                status.labels(**labels, status=name).set(1 if name == flow.status else 0)
            for stream, counters in sorted(flow.streams.items()):
                for kind in ENTITY_KINDS:
                    entities.labels(**labels, stream=stream, kind=kind).set(counters.get(kind, 0))
            refused.labels(**labels).set(flow.total.get("refused", 0))
            for sink in flow.sinks:
                backlog.labels(**labels, sink=sink.sink).set(sink.backlog)
                dead.labels(**labels, sink=sink.sink).set(sink.dead_letters)
    return registry


def write_fleet_textfile(path: Path, files: Sequence[FileStatus]) -> None:
    """The fleet's metrics in node-exporter's textfile format, replacing `path` atomically."""
    from prometheus_client import generate_latest

    replace_atomically(path, generate_latest(fleet_registry(files)))
