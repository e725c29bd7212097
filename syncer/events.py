"""Committed changes as OpenMetadata `ChangeEvent`s, and the filter every event sink shares.

Pure: no I/O. What an event needs beyond its change (the entity's version, a commit
time for rows written before v3 of the state) comes in as a `History`, read by the state's
`LogReader`. Which change rows an `EventFilter` means, in the state's row terms, is
`event_selection`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

import orjson
from pydantic import Field, field_validator

from syncer.errors import ConfigError
from syncer.models import ENTITY_TYPES
from syncer.schema import also_accepts
from syncer.state import RowMatch, Selection
from syncer.state.records import ChangeKind, History
from syncer.steps import Change, StepConfig

__all__ = [
    "EVENT_TYPES",
    "LINEAGE",
    "NAMESPACE",
    "EventFilter",
    "EventType",
    "History",
    "build_event",
    "change_description",
    "encode",
    "event_id",
    "event_selection",
    "event_type",
    "field_change",
    "parse_time",
    "version",
]

# OpenMetadata's event types, plus two of syncer's own for lineage edges (OpenMetadata reports
# lineage as a change of the tables at either end; an edge is an entity of its own here).
EventType = Literal[
    "entityCreated",
    "entityUpdated",
    "entitySoftDeleted",
    "entityDeleted",  # a hard delete: syncer never emits it (its deletions are soft)
    "entityRestored",
    "entityLineageAdded",
    "entityLineageDeleted",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
LINEAGE = "lineage"
# Event ids are uuid5(namespace, "<workflow>:<seq>"): the same change always gets the same id,
# on a retry, after a crash and in a replay, so receivers can deduplicate by it.
NAMESPACE = uuid.UUID("5b0f3b4e-7f5c-4a44-9a0e-2f6a1c3d8e71")

_KIND_TO_TYPE: dict[str, EventType] = {
    "created": "entityCreated",
    "updated": "entityUpdated",
    "deleted": "entitySoftDeleted",
    "restored": "entityRestored",
}
_FIELD_LISTS = ("fieldsAdded", "fieldsUpdated", "fieldsDeleted")
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def event_id(workflow: str, seq: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{workflow}:{seq}"))


def event_type(change: Change) -> EventType:
    """Lineage edges are added (created, restored, and updated: an edge is replaced whole, as
    OpenMetadata's PUT /lineage does) or deleted; other entities map one kind to one type."""
    return _event_type(change.kind, lineage=change.entity_type == LINEAGE)


def _event_type(kind: str, *, lineage: bool) -> EventType:
    if lineage:
        return "entityLineageDeleted" if kind == "deleted" else "entityLineageAdded"
    return _KIND_TO_TYPE[kind]


def event_selection(wanted: EventFilter, selection: Selection | None = None) -> Selection:
    """`selection` (every change, if None) narrowed to the change rows whose events `wanted`
    takes, in the state's row terms: kinds, entity types, key globs."""
    return dataclasses.replace(
        selection or Selection(),
        matches=_row_matches(wanted.event_types) if wanted.event_types else None,
        entity_types=tuple(wanted.entity_types),
        key_globs=tuple(wanted.fqn),
    )


def _row_matches(event_types: Collection[str]) -> tuple[RowMatch, ...]:
    """The change rows that yield these event types. Derived from `_event_type` itself, so the
    two cannot drift apart; a type no row yields (`entityDeleted`) adds nothing."""
    matches: list[RowMatch] = []
    for lineage in (False, True):
        kinds = tuple(
            k for k in get_args(ChangeKind) if _event_type(k, lineage=lineage) in event_types
        )
        if kinds:
            edges = (LINEAGE,)
            matches.append(
                RowMatch(kinds, entity_types=edges)
                if lineage
                else RowMatch(kinds, excluded_types=edges)
            )
    return tuple(matches)


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `3d`, `1w` ago, or an ISO date or time (UTC unless it names an offset)."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"time {text!r}: use an ISO date or time (2024-05-01, 2024-05-01T12:00, "
            "2024-05-01T12:00+02:00) or an age such as 30m, 2h, 3d, 1w"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def version(ordinal: int) -> float:
    """OpenMetadata's version numbering: 0.1 for the first version, then 0.2, 0.3, ...

    syncer counts every change of the entity in its log (a deletion and a restore are versions
    too, as in OpenMetadata) and never bumps the major version.
    """
    return round(ordinal / 10, 1)


def build_event(change: Change, history: History | None = None) -> dict[str, Any]:
    """The `ChangeEvent` of one committed change.

    `entityId` is left out: syncer does not know OpenMetadata's ids; match on
    `entityFullyQualifiedName`. Without a `history`, the version fields are left out too.
    """
    kind = event_type(change)
    event: dict[str, Any] = {
        "id": event_id(change.workflow, change.seq),
        "eventType": kind,
        "entityType": change.entity_type,
        "entityFullyQualifiedName": change.key,
    }
    if history is not None:
        current = version(history.ordinal)
        # A creation, or the oldest change a pruned log kept: no earlier version is known.
        first = change.kind == "created" or history.ordinal == 1
        event["previousVersion"] = current if first else version(history.ordinal - 1)
        event["currentVersion"] = current
    event["userName"] = change.workflow
    when = change.committed_at or (history.committed_at if history else None)
    if when is not None:
        event["timestamp"] = int(when.timestamp() * 1000)
    description = change_description(change)
    if description is not None:
        event["changeDescription"] = description
    entity = change.payload
    if isinstance(entity.get("domain"), str):
        event["domains"] = [entity["domain"]]
    event["entity"] = entity
    return event


def change_description(change: Change) -> dict[str, list[dict[str, Any]]] | None:
    """OpenMetadata's `changeDescription`: None for a creation, as OpenMetadata sends it.

    A deletion is `deleted` going from false to true and a restore the reverse, as in
    OpenMetadata's soft deletes; a restore also lists what changed while the entity was gone.
    """
    if change.kind == "created":
        return None
    stored = orjson.loads(change.description_json) if change.description_json else {}
    lists: dict[str, list[dict[str, Any]]] = {
        name: [field_change(f) for f in stored.get(name) or []] for name in _FIELD_LISTS
    }
    if change.kind in ("deleted", "restored"):
        gone = change.kind == "deleted"
        lists["fieldsUpdated"].insert(
            0, {"name": "deleted", "oldValue": not gone, "newValue": gone}
        )
    return lists


def field_change(stored: dict[str, Any]) -> dict[str, Any]:
    """A field change as OpenMetadata writes it: scalars as they are, lists and objects as
    JSON text ("use the corresponding field type to deserialize it"), missing values left out."""
    out: dict[str, Any] = {"name": stored["name"]}
    for key in ("oldValue", "newValue"):
        value = stored.get(key)
        if value is None:
            continue
        out[key] = orjson.dumps(value).decode() if isinstance(value, list | dict) else value
    return out


def encode(event: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    return orjson.dumps(event)


class EventFilter(StepConfig):
    """Which events a sink (or `syncer events`) takes; an empty list takes every value.

    An event must match each list that is given: one of `event_types`, one of `entity_types`,
    and one of the `fqn` globs (`*` and `?`, case-sensitive, `*` spans dots).
    """

    event_types: list[EventType] = Field(default_factory=list)
    """Only these event types (entityCreated, entityUpdated, ...)."""
    entity_types: list[str] = Field(default_factory=list)
    """Only events of these entity types."""
    fqn: list[str] = Field(default_factory=list, json_schema_extra=also_accepts({"type": "string"}))
    """Only entities whose FQN matches one of these globs (`*` spans dots)."""

    @field_validator("fqn", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("entity_types")
    @classmethod
    def _known(cls, types: list[str]) -> list[str]:
        unknown = [t for t in types if t not in ENTITY_TYPES]
        if unknown:
            known = ", ".join(sorted(ENTITY_TYPES))
            raise ValueError(f"unknown entity type {unknown[0]!r}; known are {known}")
        return types

    def accepts(self, kind: EventType, entity_type: str, fqn: str) -> bool:
        if self.event_types and kind not in self.event_types:
            return False
        if self.entity_types and entity_type not in self.entity_types:
            return False
        return not self.fqn or any(fnmatch.fnmatchcase(fqn, glob) for glob in self.fqn)

    def accepts_change(self, change: Change) -> bool:
        return self.accepts(event_type(change), change.entity_type, change.key)

    @property
    def empty(self) -> bool:
        return not (self.event_types or self.entity_types or self.fqn)
