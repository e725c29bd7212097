"""The differ's pure half: an entity reduced to a row, and what a row changes in the state.

The other half, comparing a whole batch of fingerprints with the state, is one join in
`StateStore.changed`. `Known` is a plain record of the state's; nothing here touches DuckDB.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from syncer.describe import describe
from syncer.fingerprint import encode, snapshot
from syncer.models import Entity
from syncer.state import Known
from syncer.steps import ChangeKind, CursorValue, FieldChange, Stream


class Row(NamedTuple):
    """An entity reduced to what diffing and committing need; the model itself is let go."""

    key: str
    entity_type: str
    parent_key: str | None
    depends_on: tuple[str, ...]  # what its deletion cascades from (see `Entity.depends_on`)
    fingerprint: str
    payload: str  # canonical JSON
    cursor: CursorValue | None
    append_only: bool
    raw_digest: str | None = None  # of the raw record it was mapped from (`syncer.steps.Raw`)
    origin: str | None = None  # a derived row's: the key of the entity whose relationship it is


def row_of(
    entity: Entity, stream: Stream, raw_digest: str | None = None, origin: str | None = None
) -> Row:
    payload, fingerprint = snapshot(entity)
    cursor = getattr(entity, stream.cursor.field, None) if stream.cursor else None
    return Row(
        entity.key,
        entity.entity_type,
        entity.parent_fqn,
        entity.depends_on,
        fingerprint,
        payload,
        cursor,
        entity.append_only,
        raw_digest,
        origin,
    )


def classify(row: Row, known: Known) -> tuple[ChangeKind | None, list[str], str | None]:
    """The change a row makes to the state: kind (None if none), changed fields, description."""
    if known.fingerprint is None:
        return "created", [], None
    if known.deleted:
        kind: ChangeKind = "restored"
    elif known.fingerprint == row.fingerprint or row.append_only:
        return None, [], None
    else:
        kind = "updated"
    old = orjson.loads(known.payload) if known.payload else {}
    change = describe(old, orjson.loads(row.payload))
    description = {
        "fieldsAdded": [_field(f) for f in change.fields_added],
        "fieldsUpdated": [_field(f) for f in change.fields_updated],
        "fieldsDeleted": [_field(f) for f in change.fields_deleted],
    }
    return kind, change.names, encode(description)


def _field(change: FieldChange) -> dict[str, Any]:
    return {"name": change.name, "oldValue": change.old_value, "newValue": change.new_value}
