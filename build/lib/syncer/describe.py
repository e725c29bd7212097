"""Field-level change descriptions: what differs between two canonical payloads.

Names follow OpenMetadata's change events: nested fields joined with dots, and items of named
lists (columns, tasks, features) addressed by their name, e.g. `columns.email.dataType`.
"""

from __future__ import annotations

from typing import Any

from syncer.steps import ChangeDescription, FieldChange


def describe(old: dict[str, Any], new: dict[str, Any]) -> ChangeDescription:
    added: list[FieldChange] = []
    updated: list[FieldChange] = []
    deleted: list[FieldChange] = []
    _walk("", old, new, added, updated, deleted)
    return ChangeDescription(tuple(added), tuple(updated), tuple(deleted))


def _walk(
    prefix: str,
    old: Any,
    new: Any,
    added: list[FieldChange],
    updated: list[FieldChange],
    deleted: list[FieldChange],
) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            name = f"{prefix}.{key}" if prefix else key
            if key not in old:
                added.append(FieldChange(name, new_value=new[key]))
            elif key not in new:
                deleted.append(FieldChange(name, old_value=old[key]))
            else:
                _walk(name, old[key], new[key], added, updated, deleted)
        return
    old_named, new_named = _by_name(old), _by_name(new)
    if old_named is not None and new_named is not None:
        _walk(prefix, old_named, new_named, added, updated, deleted)
        old_order = [name for name in old_named if name in new_named]
        new_order = [name for name in new_named if name in old_named]
        if old_order != new_order:  # the order of named items (columns) is part of the entity
            updated.append(FieldChange(prefix, old_value=old_order, new_value=new_order))
        return
    updated.append(FieldChange(prefix, old_value=old, new_value=new))


def _by_name(value: Any) -> dict[str, Any] | None:
    """A list of uniquely named objects as a dict by name; None for any other value."""
    if not isinstance(value, list) or not value:
        return None if not isinstance(value, list) else {}
    named: dict[str, Any] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        named[item["name"]] = item
    return named if len(named) == len(value) else None
