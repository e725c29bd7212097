"""The rows the store takes and gives back, beyond the change-log records of `state.records`.

Plain values: keys, fingerprints, dependency lists and payload text. What an entity's payload
means, and which keys it depends on, the engine decides; the store only keeps what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from syncer.state.records import Counters


@dataclass(frozen=True, slots=True)
class Known:
    """What the state holds for one key of a batch whose fingerprint it does not match."""

    fingerprint: str | None  # None: never seen
    deleted: bool
    payload: str | None


@dataclass(frozen=True, slots=True)
class Missing:
    """A live entity of a stream that this run did not read: a deletion candidate.

    `depends_on` are the keys whose deletion takes it with it, as the engine stored them (empty
    for a file not yet backfilled since state schema v4).
    """

    key: str
    entity_type: str
    parent_key: str | None
    depends_on: list[str]
    fingerprint: str
    payload: str


@dataclass(frozen=True, slots=True)
class Watermark:
    cursor_field: str
    kind: str
    value: str


class StoredWatermark(NamedTuple):
    """A stream's watermark as the state holds it, with the run that set it (`runs.BY_HAND`
    for one set with `syncer state reset --stream S --to VALUE`)."""

    workflow: str
    stream: str
    cursor_field: str
    kind: str
    value: str
    run_id: int


class ChangeRow(NamedTuple):
    """One change a batch commits: the change-log row, and the entity's new state with it."""

    key: str
    entity_type: str
    parent_key: str | None
    depends_on: list[str]  # keys whose deletion takes this entity with it
    kind: str  # created, updated, restored, deleted
    fingerprint: str | None  # None for a deletion
    old_fingerprint: str | None
    changed_fields: list[str]
    description: str | None  # JSON: fieldsAdded / fieldsUpdated / fieldsDeleted
    payload: str  # canonical JSON; for a deletion, the entity's last known state
    raw_digest: str | None = None  # of the source's rows it was mapped from, salted
    origin: str | None = None  # a derived entity's: the key of the entity that gave it


class ViolationRow(NamedTuple):
    """A rule an entity broke in a run (see `syncer.steps.Violation`)."""

    stream: str
    entity_type: str
    key: str
    rule: str
    action: str
    message: str


class DependencyRow(NamedTuple):
    """An entity stored before its dependencies were (state schema v4): what the engine needs
    to compute them, its payload being the one of its last change."""

    workflow: str
    stream: str
    key: str
    entity_type: str
    parent_key: str | None
    payload: str


@dataclass
class Batch:
    """Everything one batch commits, in one transaction."""

    run_id: int
    workflow: str
    stream: str
    changes: list[ChangeRow] = field(default_factory=list)
    # (key, raw digest) of entities mapped again but found unchanged: only the digest moved.
    digests: list[tuple[str, str]] = field(default_factory=list)
    # (key, origin) of derived entities found unchanged: the entity that gave them may not be
    # the one that gave them last time.
    origins: list[tuple[str, str]] = field(default_factory=list)
    watermark: Watermark | None = None
    counters: Counters = field(default_factory=Counters)
