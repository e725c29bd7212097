"""Normalizes the case and whitespace of names and display names, keeping every FQN consistent.

A name is part of FQNs: a schema's name is in its tables' `databaseSchema`, a table's in its
test cases' `table` and in lineage edges' ends. So every FQN-bearing field is normalized part
by part with the same decision: a part changes exactly when its own entity is in scope (its
type in `entity_types`, its original FQN found by `fqn`), whichever entity carries it. With
`entity_types: [databaseSchema]`, schema `Shop.Sales` becomes `shop.sales` and so does the
`databaseSchema` of its tables, whose own names stay. References to entity types syncer does
not know (a dashboard at the end of a lineage edge) are left as they are.

Column names are in scope with `columns: true` (the default) when their table is: they are
normalized in the table, its constraints, its test cases and in column lineage. Task, feature
and hyper-parameter names are not part of an FQN and are left alone.

Two different names that normalize to the same one (`Orders` and `orders` in one schema, or two
columns of a table) are never merged: the entity seen second (or the table holding both
columns) becomes a record error naming both originals. Collisions are tracked for the life of
the processor, that is one run.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from syncer import fqn as _fqn
from syncer.models import (
    ENTITY_TYPES,
    Column,
    ColumnLineage,
    Entity,
    EntityReference,
    LineageEdge,
    Table,
    TestCase,
)
from syncer.patterns import check_regex
from syncer.processors._common import Scope, check_entity_types, has_field, rebuild
from syncer.steps import Processor, RecordError, StepConfig

COLUMN = "column"  # a column's place in an FQN: not an entity type, but it is normalized too
# Fields that hold a parent's name (services) or FQN, by the parent's type.
_PARENT_NAME_FIELDS = ("service",)
_PARENT_FQN_FIELDS = ("database", "database_schema", "table", "test_case")


class NameRules(StepConfig):
    case: Literal["lower", "upper", "preserve"] = "preserve"
    """Change names to lower or upper case, or keep their case."""
    strip: bool = True
    """Remove leading and trailing whitespace."""
    collapse_whitespace: bool = True
    """Runs of whitespace become one space."""
    replace_spaces_with: str | None = None
    """What each space becomes, e.g. "_"; null keeps spaces."""


class NormalizeConfig(StepConfig):
    entity_types: list[str] | None = None
    """Only these entities' names; None: every type."""
    fqn: str | None = None
    """Only entities whose (original) FQN this regex finds."""
    names: NameRules | None = Field(default_factory=NameRules)
    """How names change; null leaves them alone."""
    display_names: NameRules | None = Field(default_factory=NameRules)
    """How display names change; null leaves them alone."""
    columns: bool = True
    """Column names follow `names` too (when their table is in scope)."""

    _types = field_validator("entity_types")(check_entity_types)

    @field_validator("fqn")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_regex(pattern)


def normalize(text: str, rules: NameRules) -> str:
    if rules.strip:
        text = text.strip()
    if rules.collapse_whitespace:
        text = re.sub(r"\s+", " ", text)
    if rules.replace_spaces_with is not None:
        text = re.sub(r"\s", lambda _: rules.replace_spaces_with or "", text)
    if rules.case == "lower":
        return text.lower()
    if rules.case == "upper":
        return text.upper()
    return text


class _Refused(Exception):
    """An entity that cannot be normalized; becomes its record error."""


class NormalizeProcessor(Processor):
    config_model = NormalizeConfig
    config: NormalizeConfig

    def __init__(self, config: NormalizeConfig) -> None:
        super().__init__(config)
        self._scope = Scope.of(config.entity_types, config.fqn)
        # (entity type, normalized FQN) -> the original FQN first seen with it, this run.
        self._seen: dict[tuple[str, str], str] = {}

    def process(self, entity: Entity) -> Entity | RecordError:
        try:
            fields = self._fields(entity)
            new = rebuild(entity, **fields) if fields else entity
            self._check_collisions(entity, new)
        except _Refused as refused:
            return RecordError(entity.fqn, f"normalize: {refused}")
        return new

    # --- one entity -----------------------------------------------------------------------------

    def _fields(self, entity: Entity) -> dict[str, Any]:
        """The fields of `entity` that normalization changes, with their new values."""
        fields: dict[str, Any] = {}
        own = self._scope.covers(entity)
        name, display = getattr(entity, "name", None), getattr(entity, "display_name", None)
        if own and isinstance(name, str):
            fields["name"] = self._name(name)
        if own and isinstance(display, str) and self.config.display_names is not None:
            fields["display_name"] = normalize(display, self.config.display_names) or None
        fields.update(self._parent_refs(entity))
        if isinstance(entity, Table):
            fields["columns"] = self._columns(entity.fqn, entity.columns)
            fields["table_constraints"] = [
                c.model_copy(
                    update={
                        "columns": [self._column(entity.fqn, n) for n in c.columns],
                        "referred_columns": self._column_fqns(c.referred_columns),
                    }
                )
                for c in entity.table_constraints
            ]
        elif isinstance(entity, TestCase) and entity.column is not None:
            fields["column"] = self._column(entity.table, entity.column)
        elif isinstance(entity, LineageEdge):
            fields["from_entity"] = self._reference(entity.from_entity)
            fields["to_entity"] = self._reference(entity.to_entity)
            fields["columns_lineage"] = [self._column_lineage(c) for c in entity.columns_lineage]
        return {k: v for k, v in fields.items() if v != getattr(entity, k)}

    def _parent_refs(self, entity: Entity) -> dict[str, str]:
        """The fields that hold the parent's name (services) or FQN, normalized."""
        parent_type = type(entity).parent_type
        if parent_type is None:
            return {}
        fields = {}
        for name in _PARENT_NAME_FIELDS:
            if has_field(entity, name):
                ref = _fqn.quote(getattr(entity, name))
                fields[name] = _fqn.split(self._fqn(ref, parent_type))[0]
        for name in _PARENT_FQN_FIELDS:
            if has_field(entity, name):
                fields[name] = self._fqn(getattr(entity, name), parent_type)
        return fields

    def _reference(self, ref: EntityReference) -> EntityReference:
        fqn = self._fqn(ref.fully_qualified_name, ref.type)
        return ref.model_copy(update={"fully_qualified_name": fqn})

    def _columns(self, table: str, columns: list[Column]) -> list[Column]:
        """Columns (and their children) renamed; siblings that would merge are refused."""
        renamed: dict[str, str] = {}
        result = []
        for column in columns:
            name = self._column(table, column.name)
            other = renamed.setdefault(name, column.name)
            if other != column.name:
                raise _Refused(
                    f"columns {other!r} and {column.name!r} of table {table} both normalize to"
                    f" {name!r}: rename one of them or change the normalize rules"
                )
            update: dict[str, Any] = {"name": name}
            if column.children:
                update["children"] = self._columns(table, column.children)
            result.append(column.model_copy(update=update))
        return result

    def _column_lineage(self, flow: ColumnLineage) -> ColumnLineage:
        return flow.model_copy(
            update={
                "from_columns": self._column_fqns(flow.from_columns),
                "to_column": self._fqn(flow.to_column, COLUMN),
            }
        )

    def _column_fqns(self, fqns: list[str] | None) -> list[str] | None:
        return None if fqns is None else [self._fqn(f, COLUMN) for f in fqns]

    # --- names and FQNs -----------------------------------------------------------------------

    def _name(self, name: str) -> str:
        if self.config.names is None:
            return name
        new = normalize(name, self.config.names)
        if not new:
            raise _Refused(f"name {name!r} normalizes to an empty name")
        return new

    def _column(self, table: str, name: str) -> str:
        """A column name of `table` (its original FQN), normalized if columns are in scope."""
        in_scope = self.config.columns and self._in_scope("table", table)
        return self._name(name) if in_scope else name

    def _in_scope(self, entity_type: str, fqn: str) -> bool:
        return self.config.names is not None and self._scope.applies(entity_type, fqn)

    def _fqn(self, fqn: str, entity_type: str) -> str:
        """An FQN of an entity of `entity_type`, each part normalized if its entity is in
        scope; unchanged if the type is unknown or the FQN has not the type's shape."""
        try:
            parts = _fqn.split(fqn)
        except _fqn.FQNError:
            return fqn
        types = _shape(entity_type, len(parts))
        if types is None:
            return fqn
        new = []
        for i, (part, part_type) in enumerate(zip(parts, types, strict=True)):
            if part_type == COLUMN:
                new.append(self._column(_fqn.build(*parts[:i]), part))
            elif self._in_scope(part_type, _fqn.build(*parts[: i + 1])):
                new.append(self._name(part))
            else:
                new.append(part)
        return _fqn.build(*new)

    # --- collisions ---------------------------------------------------------------------------

    def _check_collisions(self, old: Entity, new: Entity) -> None:
        """Refuse `new` if it (or one of its parents) normalizes to a name another original
        already normalized to in this run; remember its names otherwise."""
        named = _identity(old), _identity(new)
        if named[0] is None or named[1] is None:
            return
        (entity_type, old_fqn), (_, new_fqn) = named[0], named[1]
        old_parts, new_parts = _fqn.split(old_fqn), _fqn.split(new_fqn)
        types = _shape(entity_type, len(old_parts))
        # An FQN of an unexpected shape is checked whole, its parents not.
        levels = enumerate(types) if types else [(len(old_parts) - 1, entity_type)]
        found = []
        for i, part_type in levels:
            original, key = _fqn.build(*old_parts[: i + 1]), _fqn.build(*new_parts[: i + 1])
            seen = self._seen.get((part_type, key))
            if seen is not None and seen != original:
                raise _Refused(
                    f"{part_type} {original} normalizes to {key}, as {seen} already did:"
                    " rename one of them or narrow the normalize rules (entity_types, fqn)"
                )
            found.append(((part_type, key), original))
        self._seen.update(found)


def _identity(entity: Entity) -> tuple[str, str] | None:
    """The type and FQN that name `entity` and its ancestors: its own for a named entity, its
    parent's for a test result; None for a lineage edge."""
    if has_field(entity, "name"):
        return entity.entity_type, entity.fqn
    if entity.parent_type is not None and entity.parent_fqn is not None:
        return entity.parent_type, entity.parent_fqn
    return None


def _shape(entity_type: str, length: int) -> list[str] | None:
    """The entity type of each part of an FQN of `entity_type` with `length` parts."""
    if entity_type == COLUMN:
        table = _lineage("table")
        return [*table, COLUMN] if len(table) + 1 == length else None
    types = _lineage(entity_type)
    if entity_type == "testCase" and length == len(types) + 1:  # a column's test
        types = [*types[:-1], COLUMN, entity_type]
    return types if types and len(types) == length else None


def _lineage(entity_type: str) -> list[str]:
    """The types from the root down to `entity_type`; empty if the type is unknown."""
    types: list[str] = []
    current: str | None = entity_type
    while current is not None:
        model = ENTITY_TYPES.get(current)
        if model is None:
            return []
        types.insert(0, current)
        current = model.parent_type
    return types
