"""Checks entities against declarative rules and flags those that break one.

A rule picks entities (`entity_types`, an `fqn` regex), optionally items inside them (`each:
columns`, narrowed by a `where` condition), and states what must hold of a field, as one
condition key:

    - name: finance-tables-have-owners
      entity_types: [table]
      fqn: '\\.finance\\.[^.]+$'
      field: owners
      not_empty: true
      action: fail
    - name: sensitive-columns-are-described
      entity_types: [table]
      each: columns
      where: {field: tags, contains: PII.Sensitive}
      field: description
      not_empty: true
      action: fail

Conditions: `exists` (not null), `not_empty` (not null, not blank, not an empty list),
`empty`, `equals`, `not_equals`, `in`, `not_in`, `matches` / `not_matches` (a regex searched
in the text), `contains` / `not_contains` (a list holds a string, a tag FQN, an owner's name;
or a text holds a substring). Fields are named as the entity serializes (`owners`,
`tableType`, `schemaDefinition`, `fromEntity.type`); a rule skips entity types that have no
such field. Every broken rule becomes a violation that names the rule, its action, the entity
and the field (and the item); the engine acts on them (`warn` lets the entity through, `drop`
filters it, `fail` fails the run once every entity has been checked). This processor only
reports: an entity that breaks no rule comes back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from syncer.models import Entity
from syncer.patterns import check_regex
from syncer.processors._common import (
    Scope,
    check_entity_types,
    get,
    has_field,
    parse_path,
)
from syncer.steps import Flagged, Processor, StepConfig, Violation, ViolationAction

Operator = Literal[
    "exists",
    "not_empty",
    "empty",
    "equals",
    "not_equals",
    "in_",
    "not_in",
    "matches",
    "not_matches",
    "contains",
    "not_contains",
]
_OPERATORS: tuple[Operator, ...] = get_args(Operator)


class Condition(StepConfig):
    """A field and one condition on its value."""

    field: str
    """The field checked, as the entity serializes it (a dotted path, e.g. toEntity.type)."""
    exists: bool | None = None
    """`true`: the field is not null."""
    not_empty: bool | None = None
    """`true`: not null, not blank, not an empty list."""
    empty: bool | None = None
    """`true`: null, blank or an empty list."""
    equals: Any = None
    """The field equals this value."""
    not_equals: Any = None
    """The field does not equal this value."""
    in_: list[Any] | None = Field(default=None, alias="in")
    """The field is one of these values."""
    not_in: list[Any] | None = None
    """The field is none of these values."""
    matches: str | None = None
    """A regex searched in the text."""
    not_matches: str | None = None
    """A regex not found in the text."""
    contains: str | None = None
    """A list holds this string (a tag FQN, an owner's name), or a text holds it."""
    not_contains: str | None = None
    """A list does not hold this string, or a text does not hold it."""

    @field_validator("field")
    @classmethod
    def _path(cls, path: str) -> str:
        parse_path(path, wildcards=False)
        return path

    @field_validator("matches", "not_matches")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_regex(pattern)

    @field_validator("exists", "not_empty", "empty")
    @classmethod
    def _only_true(cls, flag: bool | None) -> bool | None:
        if flag is False:
            raise ValueError("write `true`, or use the opposite condition")
        return flag

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [op for op in _OPERATORS if op in self.model_fields_set]
        if len(given) != 1:
            names = ", ".join(op.rstrip("_") for op in _OPERATORS)
            found = ", ".join(op.rstrip("_") for op in given) or "none"
            raise ValueError(f"give exactly one condition of {names} (found: {found})")
        return self

    @property
    def operator(self) -> Operator:
        return next(op for op in _OPERATORS if op in self.model_fields_set)

    @property
    def argument(self) -> Any:
        return getattr(self, self.operator)


class PolicyRule(Condition):
    name: str = Field(min_length=1)
    """Unique; names the violation."""
    entity_types: list[str] | None = None
    """Only these entity types; unset: every type."""
    fqn: str | None = None
    """FQN regex (searched)."""
    each: str | None = None
    """A list field: the condition is checked on each of its items."""
    where: Condition | None = None
    """With `each`: only the items that meet it."""
    action: ViolationAction = "warn"
    """What a broken rule does: warn, drop the entity, or fail the run."""
    message: str | None = None
    """What is wrong, in the rule's words."""

    _types = field_validator("entity_types")(check_entity_types)

    @field_validator("fqn")
    @classmethod
    def _fqn_compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_regex(pattern)

    @field_validator("each")
    @classmethod
    def _each_path(cls, path: str | None) -> str | None:
        if path is not None:
            parse_path(path, wildcards=False)
        return path

    @model_validator(mode="after")
    def _where_needs_each(self) -> PolicyRule:
        if self.where is not None and self.each is None:
            raise ValueError("`where` selects items of `each`: give `each` too")
        return self


class PolicyConfig(StepConfig):
    rules: list[PolicyRule] = Field(min_length=1)
    """The rules every entity is checked against."""

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[PolicyRule]) -> list[PolicyRule]:
        names = [r.name for r in rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(twice)}")
        return rules


# --- evaluation -------------------------------------------------------------------------------


def _text(item: Any) -> str | None:
    """How an item is named when a condition compares it with a string."""
    if isinstance(item, dict):
        for key in ("tagFQN", "fullyQualifiedName", "name"):
            if isinstance(item.get(key), str):
                return str(item[key])
        return None
    return None if item is None else str(item)


def _is_empty(value: Any) -> bool:
    return (
        value is None
        or value == []
        or value == {}
        or (isinstance(value, str) and not value.strip())
    )


def holds(operator: Operator, argument: Any, value: Any) -> bool:
    """Whether `value` meets the condition `operator: argument`."""
    if operator == "exists":
        return value is not None
    if operator == "not_empty":
        return not _is_empty(value)
    if operator == "empty":
        return _is_empty(value)
    if operator in ("equals", "not_equals"):
        return bool(value == argument) == (operator == "equals")
    if operator in ("in_", "not_in"):
        return bool(value in argument) == (operator == "in_")
    if operator in ("matches", "not_matches"):
        texts = [_text(v) for v in value] if isinstance(value, list) else [_text(value)]
        found = any(t is not None and re.search(argument, t) for t in texts)
        return found == (operator == "matches")
    if operator in ("contains", "not_contains"):
        if isinstance(value, list):
            found = any(_text(v) == argument for v in value)
        else:
            found = isinstance(value, str) and argument in value
        return found == (operator == "contains")
    raise ValueError(f"unknown condition {operator!r}")


_WORDS: dict[Operator, str] = {
    "exists": "must be set",
    "not_empty": "must not be empty",
    "empty": "must be empty",
    "equals": "must equal {!r}",
    "not_equals": "must not equal {!r}",
    "in_": "must be one of {!r}",
    "not_in": "must not be one of {!r}",
    "matches": "must match {!r}",
    "not_matches": "must not match {!r}",
    "contains": "must contain {!r}",
    "not_contains": "must not contain {!r}",
}


@dataclass(frozen=True, slots=True)
class _Check:
    """A condition made ready: its field path parsed."""

    path: tuple[str, ...]
    operator: Operator
    argument: Any

    @classmethod
    def of(cls, condition: Condition) -> _Check:
        path = parse_path(condition.field, wildcards=False)
        return cls(path, condition.operator, condition.argument)

    def holds(self, data: Any) -> bool:
        return holds(self.operator, self.argument, get(data, self.path))


@dataclass(frozen=True, slots=True)
class _Rule:
    spec: PolicyRule
    scope: Scope
    check: _Check
    each: tuple[str, ...] | None
    where: _Check | None

    @classmethod
    def of(cls, rule: PolicyRule) -> _Rule:
        return cls(
            spec=rule,
            scope=Scope.of(rule.entity_types, rule.fqn),
            check=_Check.of(rule),
            each=parse_path(rule.each, wildcards=False) if rule.each else None,
            where=_Check.of(rule.where) if rule.where else None,
        )

    def applies(self, entity: Entity) -> bool:
        first = (self.each or self.check.path)[0]
        return self.scope.covers(entity) and has_field(entity, first)

    def violations(self, entity: Entity, data: dict[str, Any]) -> Iterator[Violation]:
        spec = self.spec
        for label, item in self._items(data):
            if not self.check.holds(item):
                yield Violation(spec.name, spec.action, self._message(entity, label))

    def _items(self, data: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
        """(label, item) pairs the condition is checked on: the entity, or each selected item."""
        if self.each is None:
            yield None, data
            return
        items = get(data, self.each)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if self.where is not None and not self.where.holds(item):
                continue
            name = item.get("name") if isinstance(item, dict) else None
            yield (f"{name}" if isinstance(name, str) else f"#{index}"), item

    def _message(self, entity: Entity, item: str | None) -> str:
        """`table shop.main.crm.customers: columns.email.description must not be empty`."""
        spec = self.spec
        at = f"{'.'.join(self.each or ())}.{item}" if item is not None else ""
        if spec.message is not None:
            what = f"{at}: {spec.message}" if at else spec.message
        else:
            field = f"{at}.{spec.field}" if at else spec.field
            what = f"{field} " + _WORDS[spec.operator].format(spec.argument)
        return f"{entity.entity_type} {entity.fqn}: {what} (rule {spec.name})"


class PolicyProcessor(Processor):
    config_model = PolicyConfig
    config: PolicyConfig

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        self._rules = [_Rule.of(r) for r in config.rules]

    def process(self, entity: Entity) -> Entity | Flagged:
        rules = [r for r in self._rules if r.applies(entity)]
        if not rules:
            return entity
        data = entity.model_dump(mode="json")
        violations = tuple(v for r in rules for v in r.violations(entity, data))
        return Flagged(entity, violations) if violations else entity
