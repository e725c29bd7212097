"""The contracts between the engine and its steps: sources, processors and sinks.

Each extension point is one or two methods. The engine loop is not overridden: a source says
what it has (`streams`) and yields it (`read`); a processor changes or drops one entity; a
sink writes committed changes and reports which it refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, overload

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from syncer.models import Entity

CursorValue = datetime | int | str
CursorKind = Literal["datetime", "integer", "string"]
# A sorted stream's watermark may advance with each committed batch; an unsorted one's only
# when the whole stream has been read.
CursorOrdering = Literal["sorted", "unsorted"]
# `detect`: keys the state holds that a complete read did not see are deletions (with the
# fail-safe); `never`: the stream cannot tell a missing record from one it did not read.
DeletionPolicy = Literal["detect", "never"]
ChangeKind = Literal["created", "updated", "deleted", "restored"]


class StepConfig(BaseModel):
    """Base of every step's config: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Cursor:
    """The field a stream can be read from incrementally, and how."""

    field: str
    kind: CursorKind = "datetime"
    ordering: CursorOrdering = "unsorted"
    lookback: timedelta | int | None = None


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of record a source yields.

    `derived` streams are not read: they are fed by `Source.relationships` as other streams'
    entities pass, and are committed after every read stream.
    """

    name: str
    entity_type: str
    cursor: Cursor | None = None
    deletions: DeletionPolicy = "detect"
    derived: bool = False


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


@dataclass(slots=True)
class Counters:
    scanned: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    restored: int = 0
    deleted: int = 0
    filtered: int = 0
    errors: int = 0

    FIELDS: ClassVar[tuple[str, ...]] = (
        "scanned",
        "created",
        "updated",
        "unchanged",
        "restored",
        "deleted",
        "filtered",
        "errors",
    )

    def add(self, other: Counters) -> None:
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.FIELDS}

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.restored + self.deleted


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    """What `test-connection` found: a line per check, and whether extraction can work."""

    ok: bool
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


class Source(ABC):
    """Reads a system and yields its entities, stream by stream."""

    config_model: ClassVar[type[StepConfig]]

    def __init__(self, config: StepConfig) -> None:
        self.config = config

    @abstractmethod
    def streams(self) -> list[Stream]: ...

    @abstractmethod
    def read(self, stream: Stream, since: CursorValue | None) -> Iterator[Either]:
        """Yield the stream's records; with a cursor, those whose cursor value is >= `since`."""

    def relationships(self, entity: Entity) -> Iterable[Entity]:
        """Entities (lineage, ownership) derived from one that passed; routed to derived streams."""
        return ()

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
class Change:
    """One committed row of the change log, as a sink receives it."""

    seq: int
    run_id: int
    workflow: str
    stream: str
    key: str
    entity_type: str
    kind: ChangeKind
    fingerprint: str | None
    old_fingerprint: str | None
    changed_fields: list[str]
    payload_json: str  # canonical JSON of the entity (for deletions: its last known state)
    description_json: str | None = None  # fieldsAdded / fieldsUpdated / fieldsDeleted
    committed_at: datetime | None = None

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.payload_json)
        return value


class ChangeBatch(Sequence[Change]):
    """Changes read from the change log: a sequence of `Change`, in seq order.

    Only the seqs are read up front. The rows come as one Arrow table on first use: sinks that
    take Arrow (the DuckDB catalog) read `table` and never build Python objects; the others
    iterate. A sink inside the state file may skip both and select by `seqs` itself.
    """

    def __init__(self, seqs: list[int], load: Callable[[], pa.Table]) -> None:
        self.seqs = seqs
        self._load = load
        self._table: pa.Table | None = None
        self._changes: list[Change] | None = None

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            self._table = self._load()
        return self._table

    def __len__(self) -> int:
        return len(self.seqs)

    @overload
    def __getitem__(self, index: int) -> Change: ...
    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...
    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if self._changes is None:
            columns = self.table.to_pydict()
            self._changes = [Change(*row) for row in zip(*columns.values(), strict=True)]
        return self._changes[index]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a sink refused a change; `final` sends it to the dead letters at once (HTTP 410)."""

    reason: str
    final: bool = False


# seq -> reason, for the changes a sink refused; every other change in the batch was written.
# A refused change stays pending and is offered again on the next run, until the sink's
# `dead_letter_after` attempts (if set) or a final refusal move it to the dead letters.
Refusals = dict[int, str | Refusal]


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What the engine hands a sink when it opens: the workflow and the state store."""

    workflow: str
    state: Any  # state.store.StateStore; typed loosely to keep steps free of the store


class Sink(ABC):
    """Writes committed changes somewhere; writes are idempotent by key."""

    config_model: ClassVar[type[StepConfig]]
    # Failed attempts after which a refused change is dead-lettered; None retries forever.
    dead_letter_after: int | None = None

    def __init__(self, config: StepConfig) -> None:
        self.config = config

    def open(self, context: SinkContext) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    def write(self, changes: Sequence[Change]) -> Refusals:
        """Write a batch in order; raise `SinkError` if the sink cannot be reached at all."""

    def test_connection(self) -> ConnectionReport:
        return ConnectionReport(ok=True, checks=[("connect", True, "no checks defined")])

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
