"""Test doubles for plug-in authors: a source whose streams are Python lists, and a sink that
remembers what it was given.

With `syncer.testing.contract.run_source` they run a processor or a sink inside the real engine
(real diffing, state and delivery), without a system to read or to write to:

    user = Record(endpoint="users", id="1", data={"email": "ada@example.com"})
    source = ListSource(ListStream("users", "record", [user]))
    sink = MemorySink()
    run_source(source, tmp_path / "state.duckdb", processors=[MyProcessor(MyConfig())],
               sinks=[("memory", sink)])
    assert sink.kinds == [("created", "users.1")]

Both doubles can be changed between runs (a stream's `records`; a sink's `refuse` and `down`),
so a test can show what a second run does with a changed, refused or undelivered entity.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from pydantic import Field

from syncer.errors import SinkError
from syncer.fingerprint import digest_of
from syncer.models import Entity
from syncer.steps import (
    Change,
    Cursor,
    CursorValue,
    DeletionPolicy,
    Either,
    Notice,
    Raw,
    Record,
    RecordError,
    Refusals,
    Sink,
    Source,
    StepConfig,
    Stream,
)

__all__ = ["ListSource", "ListSourceConfig", "ListStream", "MemorySink", "MemorySinkConfig"]


@dataclass
class ListStream:
    """One stream of a `ListSource`: its records, which a test may change between runs.

    A record is an entity, a `RecordError` (a record the source could not read) or a `Notice`
    (something the reader tells the run). With a `cursor`, a read from `since` yields only the
    entities whose cursor field is at or after it, as an incremental API would (and any entity
    without a value, and every error and notice). With
    `raw`, each entity is offered as a `Raw` record, its digest taken from its JSON, and the
    source lists the keys the engine had it map (`ListSource.mapped`).
    """

    name: str
    entity_type: str
    records: list[Either | Notice] = field(default_factory=list)
    cursor: Cursor | None = None
    deletions: DeletionPolicy = "detect"
    raw: bool = False


class ListSourceConfig(StepConfig):
    """Nothing: a `ListSource` is built in Python, its streams given to it, not configured."""


class ListSource(Source):
    """A source of in-memory streams, read in the order given (parents before children)."""

    config_model = ListSourceConfig

    def __init__(self, *streams: ListStream) -> None:
        super().__init__(ListSourceConfig())
        self.lists = list(streams)
        # (stream, since) of every read, in order, for tests of what the engine asks for.
        self.reads: list[tuple[str, CursorValue | None]] = []
        self.mapped: list[str] = []  # keys of the raw records the engine had mapped

    def streams(self) -> list[Stream]:
        return [
            Stream(
                s.name,
                s.entity_type,
                partial(self._read, s),
                cursor=s.cursor,
                deletions=s.deletions,
            )
            for s in self.lists
        ]

    def _read(self, stream: ListStream, since: CursorValue | None) -> Iterator[Record]:
        self.reads.append((stream.name, since))
        for record in list(stream.records):  # a copy: the test may change the list meanwhile
            if isinstance(record, RecordError | Notice):
                yield record
            elif _at_or_after(record, stream.cursor, since):
                yield self._raw(record, stream.cursor) if stream.raw else record

    def _raw(self, entity: Entity, cursor: Cursor | None) -> Raw:
        def build() -> Entity:
            self.mapped.append(entity.key)
            return entity

        value = getattr(entity, cursor.field, None) if cursor else None
        return Raw(entity.key, digest_of(entity.model_dump_json()), build, value)


def _at_or_after(entity: Entity, cursor: Cursor | None, since: CursorValue | None) -> bool:
    """Whether an incremental read from `since` (inclusive) yields the entity."""
    if cursor is None or since is None:
        return True
    value: Any = getattr(entity, cursor.field, None)
    if value is None:
        return True
    if isinstance(since, datetime) and isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=since.tzinfo)  # a naive time is read in the watermark's zone
    return bool(value >= since)


class MemorySinkConfig(StepConfig):
    refuse: list[str] = Field(default_factory=list)  # keys to refuse
    down: bool = False  # raise on every write, as a sink that cannot be reached
    token: str | None = None


class MemorySink(Sink):
    """A sink for tests: remembers what it was given, refuses chosen keys, or is down.

    Its behaviour can be changed between runs (`refuse`, `down`), so a test can show a refused
    or undelivered change being retried. With a `token`, its refusals and failures echo the
    token, as a careless HTTP client echoes its credentials; the engine must keep that out of
    the state and logs.
    """

    config_model = MemorySinkConfig
    config: MemorySinkConfig

    def __init__(self, config: MemorySinkConfig | None = None) -> None:
        super().__init__(config or MemorySinkConfig())
        self.refuse = set(self.config.refuse)
        self.down = self.config.down
        self.written: list[Change] = []  # accepted changes, in the order received
        self.offered: list[Change] = []  # every change offered, accepted or not

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.written]

    @property
    def kinds(self) -> list[tuple[str, str]]:
        return [(c.kind, c.key) for c in self.written]

    def write(self, changes: Sequence[Change]) -> Refusals:
        auth = f" (token {self.config.token})" if self.config.token else ""
        if self.down:
            raise SinkError(f"memory sink is down{auth}")
        self.offered.extend(changes)
        refused: Refusals = {
            c.seq: f"refused {c.key}{auth}" for c in changes if c.key in self.refuse
        }
        self.written.extend(c for c in changes if c.seq not in refused)
        return refused
