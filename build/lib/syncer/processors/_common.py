"""What the built-in processors share: config checks, entity scopes and field paths.

A field path names fields as an entity serializes (`entity.model_dump(mode="json")`, so
OpenMetadata's camelCase: `schemaDefinition`, `columns.*.description`). `*` stands for every
item of a list (or value of an object), `**` for any depth, zero levels included.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from syncer.models import ENTITY_TYPES, Entity

ANY = "*"
ANY_DEPTH = "**"


# --- config checks ----------------------------------------------------------------------------


def check_entity_types(names: list[str] | None) -> list[str] | None:
    """`names` if every one is a known entity type; a ValueError naming the unknown ones."""
    if names is None:
        return None
    unknown = [n for n in names if n not in ENTITY_TYPES]
    if unknown:
        known = ", ".join(sorted(ENTITY_TYPES))
        raise ValueError(f"unknown entity type {', '.join(map(repr, unknown))}; known: {known}")
    return names


@dataclass(frozen=True, slots=True)
class Scope:
    """Which entities a rule applies to: some types (None: all) and an FQN regex (searched)."""

    entity_types: frozenset[str] | None = None
    fqn: re.Pattern[str] | None = None

    @classmethod
    def of(cls, entity_types: list[str] | None, fqn: str | None) -> Scope:
        return cls(
            frozenset(entity_types) if entity_types is not None else None,
            re.compile(fqn) if fqn is not None else None,
        )

    def applies(self, entity_type: str, fqn: str) -> bool:
        if self.entity_types is not None and entity_type not in self.entity_types:
            return False
        return self.fqn is None or self.fqn.search(fqn) is not None

    def covers(self, entity: Entity) -> bool:
        return self.applies(entity.entity_type, entity.fqn)


def has_field(entity: Entity, name: str) -> bool:
    """Whether the entity's type declares the field (by Python name or serialized alias)."""
    return name in _aliases(type(entity))


def rebuild(entity: Entity, **update: Any) -> Entity:
    """A validated copy of `entity` with fields replaced: validators (sorted sets) run again."""
    data = entity.model_copy(update=update).model_dump(mode="json")
    return type(entity).model_validate(data)


# --- field paths --------------------------------------------------------------------------------


def parse_path(text: str, *, wildcards: bool = True) -> tuple[str, ...]:
    """The segments of a field path, each a serialized field name (snake_case is accepted and
    turned into the serialized name) or, with `wildcards`, `*` / `**`."""
    segments = text.split(".")
    if not text or any(not s for s in segments):
        raise ValueError(f"field path {text!r} has an empty segment")
    names = _field_names()
    parts: list[str] = []
    for segment in segments:
        if segment in (ANY, ANY_DEPTH):
            if not wildcards:
                raise ValueError(f"field path {text!r}: {segment!r} is not allowed here")
            parts.append(segment)
        elif segment in names:
            parts.append(names[segment])
        else:
            close = difflib.get_close_matches(segment, sorted(set(names.values())), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"field path {text!r}: no entity has a field {segment!r}{hint}")
    if parts[-1] == ANY_DEPTH:
        raise ValueError(f"field path {text!r} cannot end with '**'; name a field after it")
    return tuple(parts)


def get(data: Any, path: tuple[str, ...]) -> Any:
    """The value at a wildcard-free path in serialized data; None where the path is missing."""
    for segment in path:
        if not isinstance(data, dict):
            return None
        data = data.get(segment)
    return data


def update(data: Any, path: tuple[str, ...], change: Callable[[Any], Any]) -> bool:
    """Replace every value found at `path` (in place) by `change(value)`; `REMOVE` from
    `change` deletes the key or list item. True if anything was changed."""
    changed = False
    removals: list[tuple[dict[str, Any] | list[Any], str | int]] = []
    for container, key in list(_locate(data, path)):
        old = container[key]  # type: ignore[index]
        new = change(old)
        if new is REMOVE:
            removals.append((container, key))
        elif new != old:
            container[key] = new  # type: ignore[index]
            changed = True
    # List items go last first, so that earlier indexes still point at the same items.
    for container, key in sorted(removals, key=lambda r: -r[1] if isinstance(r[1], int) else 0):
        del container[key]  # type: ignore[arg-type]
        changed = True
    return changed


class _Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


def _locate(
    node: Any, path: tuple[str, ...]
) -> Iterator[tuple[dict[str, Any] | list[Any], str | int]]:
    """(container, key) of every place `path` reaches in `node`."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == ANY_DEPTH:
        yield from _locate(node, rest)
        for child in _children(node):
            yield from _locate(child, path)
        return
    if head == ANY:
        if not isinstance(node, dict | list):
            return
        keys: list[Any] = list(node) if isinstance(node, dict) else list(range(len(node)))
    elif isinstance(node, dict) and head in node:
        keys = [head]
    else:
        return
    for key in keys:
        if rest:
            yield from _locate(node[key], rest)
        else:
            yield node, key


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


@cache
def _field_names() -> dict[str, str]:
    """Every field name of every entity model and the models inside them: Python name or
    serialized alias -> serialized alias."""
    names: dict[str, str] = {}
    for model in _models():
        for name, info in model.model_fields.items():
            alias = info.alias or name
            names[name] = alias
            names[alias] = alias
    return names


@cache
def _aliases(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        n for name, info in model.model_fields.items() for n in (name, info.alias or name)
    )


def _models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    pending: list[Any] = list(ENTITY_TYPES.values())
    while pending:
        item = pending.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.append(item)
            pending.extend(info.annotation for info in item.model_fields.values())
        elif isinstance(item, types.UnionType) or typing.get_origin(item) is not None:
            pending.extend(typing.get_args(item))
    return seen
