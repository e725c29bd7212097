"""The records the state store reads and writes: counters, change-log rows and their batches.

They are rows, not entities: a change carries its entity's key, type and canonical JSON, and
nothing here knows what is inside that JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Literal, overload

import orjson

ChangeKind = Literal["created", "updated", "deleted", "restored"]


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
    refused: int = 0  # deletions a guard held back: the fail-safe, an unverifiable one

    FIELDS: ClassVar[tuple[str, ...]] = (
        "scanned",
        "created",
        "updated",
        "unchanged",
        "restored",
        "deleted",
        "filtered",
        "errors",
        "refused",
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


class ChangeRows:
    """Change-log rows as read, each a tuple of `Change`'s fields in order: what a `ChangeBatch`
    reads once and the batches taken from it share (`syncer.delivery` takes a page's parts with
    `slice` and `take`)."""

    FIELDS: ClassVar[tuple[str, ...]] = tuple(f.name for f in fields(Change))

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def slice(self, offset: int, length: int) -> ChangeRows:
        return ChangeRows(self.rows[offset : offset + length])

    def take(self, positions: Sequence[int]) -> ChangeRows:
        return ChangeRows([self.rows[p] for p in positions])

    def column(self, name: str) -> list[Any]:
        """The values of one of `Change`'s fields, in row order."""
        i = self.FIELDS.index(name)
        return [row[i] for row in self.rows]


class ChangeBatch(Sequence[Change]):
    """Changes read from the change log: a sequence of `Change`, in seq order.

    Only the seqs are read up front. The rows come in one query on first use: a sink that
    writes them with SQL (the DuckDB catalog in a file of its own) reads `table`'s columns
    and builds no `Change`; the others iterate. A sink inside the state file may skip both and
    select by `seqs` itself.
    """

    def __init__(self, seqs: list[int], load: Callable[[], ChangeRows]) -> None:
        self.seqs = seqs
        self._load = load
        self._table: ChangeRows | None = None
        self._changes: list[Change] | None = None

    @property
    def table(self) -> ChangeRows:
        if self._table is None:
            self._table = self._load()
        return self._table

    def __len__(self) -> int:
        return len(self.seqs)

    def part(self, start: int, stop: int) -> ChangeBatch:
        """Changes `start` to `stop` (positions) as a batch of their own, whose rows are a slice
        of this batch's table: the rows are read once, however many parts are taken."""
        seqs = self.seqs[start:stop]
        return ChangeBatch(seqs, lambda: self.table.slice(start, len(seqs)))

    @overload
    def __getitem__(self, index: int) -> Change: ...
    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...
    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if self._changes is None:
            self._changes = [Change(*row) for row in self.table.rows]
        return self._changes[index]


@dataclass(frozen=True, slots=True)
class History:
    """What the change log knows about a change's entity beyond the change itself."""

    ordinal: int  # 1 for the entity's first change in the log, 2 for the next, ...
    committed_at: datetime | None = None  # for rows that carry no commit time of their own
