"""What changed between two runs, field by field: the state's differences (`state.history`)
described as the change log describes one change (`syncer.describe`).

Pure: it is handed the two versions of each entity and reads nothing itself, so that the
command line and a web view describe a difference the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncer.describe import describe
from syncer.state.history import Difference, DifferenceKind
from syncer.steps import ChangeDescription, FieldChange

__all__ = ["EntityDiff", "diff", "field_rows", "to_document"]


@dataclass(frozen=True, slots=True)
class EntityDiff:
    """One entity's difference between two runs, with the runs that wrote each end."""

    workflow: str
    fqn: str
    entity_type: str
    kind: DifferenceKind
    before_run: int | None  # the run that wrote the version as of the first run, if any
    after_run: int  # the run that wrote the version as of the second (or deleted it)
    fields: ChangeDescription


def diff(difference: Difference) -> EntityDiff:
    """The field-level difference of an updated entity, and of a restored one against the
    version it was deleted in; a created or deleted entity differs as a whole."""
    before, after = difference.before, difference.after
    kind = difference.kind
    fields = ChangeDescription()
    if before is not None and kind in ("updated", "restored"):
        fields = describe(before.payload, after.payload)
    return EntityDiff(
        after.workflow,
        after.key,
        after.entity_type,
        kind,
        None if before is None else before.run_id,
        after.run_id,
        fields,
    )


def field_rows(entity: EntityDiff) -> list[tuple[str, Any, Any]]:
    """(field, old value, new value) per changed field, added then updated then deleted;
    absent values are None."""
    d = entity.fields
    changed = (*d.fields_added, *d.fields_updated, *d.fields_deleted)
    return [(f.name, f.old_value, f.new_value) for f in changed]


def to_document(entity: EntityDiff) -> dict[str, Any]:
    """The difference as JSON, its fields named as OpenMetadata's change descriptions are."""
    description = entity.fields
    return {
        "workflow": entity.workflow,
        "fqn": entity.fqn,
        "entity_type": entity.entity_type,
        "change": entity.kind,
        "before_run": entity.before_run,
        "after_run": entity.after_run,
        "fieldsAdded": [_field(f) for f in description.fields_added],
        "fieldsUpdated": [_field(f) for f in description.fields_updated],
        "fieldsDeleted": [_field(f) for f in description.fields_deleted],
    }


def _field(change: FieldChange) -> dict[str, Any]:
    return {"name": change.name, "oldValue": change.old_value, "newValue": change.new_value}
