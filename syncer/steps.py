"""The contracts between the engine and its steps: sources, processors and sinks.

Each extension point is one or two methods. The engine loop is not overridden: a source is a
list of streams, each with its own reader; a processor changes or drops one entity; a sink
writes committed changes and reports which it refused. Sinks see the state only through the
small `ChangeLog` interface (and, for the one kind that writes into the state file, `StateFile`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from syncer.models import Entity
from syncer.state.records import Change, ChangeBatch, ChangeKind, Counters, History

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Change",
    "ChangeBatch",
    "ChangeKind",
    "ChangeLog",
    "ConnectionReport",
    "Counters",
    "Cursor",
    "CursorUnit",
    "CursorValue",
    "Either",
    "Filtered",
    "Flagged",
    "History",
    "Notice",
    "Processor",
    "ProcessorResult",
    "Raw",
    "Reader",
    "Record",
    "RecordError",
    "Refusal",
    "Refusals",
    "Sink",
    "SinkContext",
    "Source",
    "StateFile",
    "StepConfig",
    "Stream",
    "Unverifiable",
    "Violation",
]

CursorValue = datetime | int | str
CursorKind = Literal["datetime", "integer", "string"]
# A sorted stream's watermark may advance with each committed batch; an unsorted one's only
# when the whole stream has been read.
CursorOrdering = Literal["sorted", "unsorted"]
# What an integer cursor counts, when it counts time: seconds or milliseconds since the epoch.
# Only time cursors are held to the engine's rule that a watermark never passes the run's start
# (plus `cursors.future_tolerance_seconds`); a plain sequence number is not.
CursorUnit = Literal["epoch_s", "epoch_ms"]
# `detect`: keys the state holds that a complete read did not see are deletions (with the
# fail-safe), but a read that yields nothing at all looks like an outage and deletes nothing;
# `complete`: the same, and an empty read is complete too, for a stream the source computes
# from what it already holds (nothing read: nothing left); `never`: the stream cannot tell a
# missing record from one it did not read.
DeletionPolicy = Literal["detect", "complete", "never"]


class StepConfig(BaseModel):
    """Base of every step's config: unknown keys are mistakes, not extensions."""

    # Each field's docstring is its description in the schema and the docs (syncer.schema).
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


@dataclass(frozen=True, slots=True)
class Cursor:
    """The field a stream can be read from incrementally, and how."""

    field: str
    kind: CursorKind = "datetime"
    ordering: CursorOrdering = "unsorted"
    lookback: timedelta | int | None = None
    unit: CursorUnit | None = None  # an integer cursor that is epoch time; None: a sequence

    def __post_init__(self) -> None:
        if self.unit is not None and self.kind != "integer":
            raise TypeError(f"cursor {self.field}: only an integer cursor takes a unit")


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of record a source yields, and how to read it.

    `read(since)` yields the stream's records: with a cursor, those whose cursor value is
    `>= since` (`since` is None on a first or full-refresh run): entities, `RecordError`s,
    `Raw` records, and `Notice`s for the run's warnings. A `derived` stream has no
    reader: it is fed by `Source.relationships` as other streams' entities pass, and is
    committed, in batches, after every read stream.
    """

    name: str
    entity_type: str
    read: Reader | None = None
    cursor: Cursor | None = None
    deletions: DeletionPolicy = "detect"
    derived: bool = False
    # Whether the reader may run in a thread of its own, up to a batch ahead of the engine,
    # so that reading the next batch overlaps committing this one. Only for a reader that
    # touches nothing thread-bound (a sqlite3 connection made in another thread) and nothing
    # the engine's thread uses meanwhile (what `relationships` reads may be filled, not changed).
    read_ahead: bool = False

    def __post_init__(self) -> None:
        if (self.read is None) != self.derived:
            raise TypeError(f"stream {self.name}: give a reader, or mark it derived=True")
        if self.derived and self.cursor is not None:
            raise TypeError(f"stream {self.name}: a derived stream is not read, so has no cursor")


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record that could not be read or processed: counted, logged, and the run goes on."""

    record: str
    reason: str


@dataclass(frozen=True, slots=True)
class Filtered:
    """A processor's decision to drop an entity, with why."""

    reason: str


ViolationAction = Literal["warn", "drop", "fail"]


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule an entity broke, and what the rule says to do about it.

    `warn` lets the entity through, `drop` filters it, `fail` keeps it out and fails the run
    once every entity has been checked, so that one run lists every violation.
    """

    rule: str
    action: ViolationAction
    message: str


@dataclass(frozen=True, slots=True)
class Flagged:
    """A processor's verdict on an entity that broke rules: the entity and its violations."""

    entity: Entity
    violations: tuple[Violation, ...]


ProcessorResult = Entity | Filtered | Flagged | RecordError


Either = Entity | RecordError


@dataclass(frozen=True, slots=True)
class Raw:
    """A record as the source read it, not yet mapped: its key, a digest of the source's own
    rows for it (`syncer.fingerprint.digest_of`), and how to map it.

    The engine compares digests in bulk with those stored beside the keys, and calls `build`
    only for records whose digest moved; the others are counted `unchanged` without being
    mapped, validated or fingerprinted. A stored digest is void after a change of syncer's
    version, of the source's `mapping_version`, or of the source's or processors' config, and
    on `--full-refresh`, so the shortcut never hides a change of mapping. The digest must
    cover everything `build` reads (every column, constraint, comment, view text), and
    everything `Source.relationships` derives from the entity reads (a view's lineage: the
    tables it may read): the relationships an unchanged record gave last time are carried over
    without being derived again. `cursor` is the record's cursor value, for a stream that has
    one. `build` returns the record's entity (or its error), keyed `key`.
    """

    key: str
    digest: str
    build: Callable[[], Either]
    cursor: CursorValue | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a reader has to tell the run that is neither a record nor a record's error:
    lineage it held back, a part of its scope it skipped on purpose. `message` is one sentence
    that names the thing and ends with the fix.

    The engine makes it a run warning (in the run's result, its summary and its JSON document),
    prefixed with the stream's name: the first `NOTICES_PER_STREAM` of a stream each, then one
    line saying more came, which the log names one by one. A notice is not a record: it is not
    counted, moves no watermark and neither allows nor holds back a deletion.
    """

    message: str


NOTICES_PER_STREAM = 10
"""A stream's notices that become run warnings of their own; the log names the rest."""

Record = Either | Raw | Notice
# A stream's reader: `since` is the inclusive lower bound of its cursor, or None.
Reader = Callable[[CursorValue | None], Iterable[Record]]


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """What `test-connection` found: a line per check, and whether extraction can work."""

    ok: bool
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Unverifiable:
    """`Source.exists`'s answer for an object the source no longer lists but cannot tell
    dropped from hidden (without MySQL's SHOW DATABASES a revoked database vanishes as a
    dropped one does). The engine keeps it unless deletions are allowed (`--allow-deletions`,
    `deletions.unverifiable: delete`); `fix` is what would let the source tell, e.g. a GRANT."""

    reason: str
    fix: str | None = None


class Source(ABC):
    """Reads a system: a list of streams, each with its own reader.

    The engine reads the streams in the order `streams()` lists them, except that a parent
    entity type's streams come before its children's (`syncer.topology`); a source may rely on
    that order, e.g. to remember in one stream what a later one needs. `close()` is called once,
    after the last stream, whatever happened.
    """

    config_model: ClassVar[type[StepConfig]]
    # Bumped when the source maps the same raw records differently: voids stored raw digests.
    mapping_version: ClassVar[int] = 1

    def __init__(self, config: StepConfig) -> None:
        self.config = config

    @abstractmethod
    def streams(self) -> list[Stream]: ...

    def relationships(self, entity: Entity) -> Iterable[Entity]:
        """Entities (lineage, ownership) derived from one that passed; routed to derived streams."""
        return ()

    def exists(self, entity_type: str, key: str) -> bool | Unverifiable | None:
        """Whether the object `key` still exists: asked, after its streams were read, about
        each entity a run is about to delete that passed the fail-safe and does not go with
        another one (at most `syncer.deletions.LOOKUPS_PER_STREAM` per stream). One cheap
        lookup, not a listing; an object the config's filters leave out does not exist.

        False confirms the deletion; True (the listing missed it) or an exception keeps the
        entity, and what goes with it, and the run says why; `Unverifiable` keeps it unless
        deletions are allowed; None (the default: the source cannot check) lets it go.
        """
        return None

    def test_connection(self) -> ConnectionReport:
        return ConnectionReport(ok=True, checks=[("connect", True, "no checks defined")])

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Processor(ABC):
    """Changes or drops one entity at a time."""

    config_model: ClassVar[type[StepConfig]]

    def __init__(self, config: StepConfig) -> None:
        self.config = config

    @abstractmethod
    def process(self, entity: Entity) -> ProcessorResult:
        """The entity (changed or not), or why it is dropped, flagged or failed.

        An exception raised here is that entity's error, not the run's.
        """

    @property
    def record_only(self) -> bool:
        """Whether what `process` returns depends on the entity and the config alone. One that
        looks further (samples the data behind a table) turns raw digests off: an unchanged
        record is then mapped and processed again on every run."""
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the processor holds (connections); called once after every run."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    name: str
    old_value: Any = None
    new_value: Any = None


@dataclass(frozen=True, slots=True)
class ChangeDescription:
    """What changed in an entity, field by field, named like `columns.email.dataType`."""

    fields_added: tuple[FieldChange, ...] = ()
    fields_updated: tuple[FieldChange, ...] = ()
    fields_deleted: tuple[FieldChange, ...] = ()

    @property
    def names(self) -> list[str]:
        return [f.name for f in (*self.fields_added, *self.fields_updated, *self.fields_deleted)]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a sink refused a change; `final` sends it to the dead letters at once (HTTP 410)."""

    reason: str
    final: bool = False


# seq -> reason, for the changes a sink refused; every other change in the batch was written.
# A refused change stays pending and is offered again on the next run, until the sink's
# `dead_letter_after` attempts (if set) or a final refusal move it to the dead letters.
Refusals = dict[int, str | Refusal]


class ChangeLog(Protocol):
    """What a sink may read of the state beyond the changes it is given."""

    def histories(self, seqs: Sequence[int]) -> Mapping[int, History]:
        """Each change's place in its entity's history (its version), by seq."""
        ...


class StateFile(Protocol):
    """The state file, for a sink whose `writes_into_state` is true (the embedded catalog).

    Such a sink runs inside the state's write transaction, so what it writes and its offset
    commit together; no other sink gets this.
    """

    @property
    def connection(self) -> duckdb.DuckDBPyConnection: ...

    def view_changes(self, name: str, seqs: Sequence[int]) -> None:
        """A temp view `name` of the connection over the change rows with these seqs: columns
        as `Change`'s, the payload as JSON in `payload_json`; nothing is copied."""
        ...


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What the engine hands a sink when it opens."""

    workflow: str
    changelog: ChangeLog | None = None  # None when there is no state (a test, a dry run)
    state_file: StateFile | None = None  # only for a sink that writes into the state file
    # The state file's id (a uuid made with the file): with `workflow`, what a sink that keeps
    # its own record of what it wrote (a JSONL file) keys it by. None when there is no state.
    state_id: str | None = None


class Sink(ABC):
    """Writes committed changes somewhere; writes are idempotent by key."""

    config_model: ClassVar[type[StepConfig]]
    # Failed attempts after which a refused change is dead-lettered; None retries forever.
    dead_letter_after: int | None = None

    def __init__(self, config: StepConfig) -> None:
        self.config = config

    @property
    def writes_into_state(self) -> bool:
        """Whether this sink writes into the state file: then it is handed `StateFile` and runs
        inside the state's transaction. Every other sink runs outside it, and its
        acknowledgement is recorded in a short transaction of its own."""
        return False

    @property
    def request_size(self) -> int | None:
        """How many changes one request to the receiver carries, if the sink sends requests:
        delivery then hands `write` that many at a time and records each acknowledgement before
        the next, so that a kill repeats at most one request. None (the default): `write` gets
        whole pages of the change log (2,000 changes)."""
        return None

    def open(self, context: SinkContext) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def write(self, changes: Sequence[Change]) -> Refusals:
        """Write a batch in order; raise `SinkError` if the sink cannot be reached at all."""

    def forget(self, workflow: str) -> None:  # noqa: B027 - optional hook
        """Drop what this sink keeps of a workflow (`syncer state reset`); most keep nothing
        that the state does not, so the default does nothing."""

    def test_connection(self) -> ConnectionReport:
        return ConnectionReport(ok=True, checks=[("connect", True, "no checks defined")])

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
