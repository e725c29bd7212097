"""The mapping language: how one JSON record becomes one entity. Pure, apart from any I/O.

    entity: mlmodel
    fields:
      name: name                              # an expression (JMESPath; `$.name` works too)
      description: {path: description, default: ""}
      algorithm: {value: unknown}             # a constant
      sourceUrl: {template: "https://ml.example.com/models/{name}"}
      createdAt: {path: created, format: epoch_ms}   # a time, read in the given format

`entity: record` keeps the record as it is (or the mapped fields only) in a generic `record`
entity keyed by `primary_key`. A problem with one record is a `MappingError` for that record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError, model_validator

from syncer.connectors.rest import timefmt
from syncer.connectors.rest.expressions import JSON, EvaluationError, Expression, Template
from syncer.models import ENTITY_TYPES, Entity, Record
from syncer.steps import StepConfig

RECORD = Record.entity_type


class FieldSpec(StepConfig):
    """Where one field's value comes from: exactly one of `path`, `value` or `template`."""

    path: str | None = None
    """Expression: where the value is in the record."""
    value: Any = None
    """A constant value."""
    template: str | None = None
    """Text with {expr} parts filled from the record."""
    format: str | None = None
    """A time format (iso, epoch_s, epoch_ms, a strftime format): the value becomes a datetime."""
    default: Any = None
    """When `path` or `template` finds nothing."""

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [k for k in ("path", "value", "template") if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("give exactly one of path, value or template")
        if self.path is not None:
            Expression(self.path)
        if self.template is not None:
            Template(self.template)
        if self.format is not None:
            timefmt.check_format(self.format)
        return self


FieldMapping = str | FieldSpec


class MappingError(ValueError):
    """A record that cannot become its entity; the message says which field and why."""


class _Rule:
    """One compiled field rule."""

    def __init__(self, spec: FieldMapping | Mapping[str, Any]) -> None:
        if isinstance(spec, str):
            spec = FieldSpec(path=spec)
        elif not isinstance(spec, FieldSpec):
            spec = FieldSpec.model_validate(spec)
        self.source = spec.path or spec.template or repr(spec.value)
        self.constant = "value" in spec.model_fields_set
        self.value = spec.value
        self.path = Expression(spec.path) if spec.path is not None else None
        self.template = Template(spec.template) if spec.template is not None else None
        self.format = spec.format
        self.default = spec.default

    def apply(self, record: JSON, parent: JSON) -> JSON:
        if self.constant:
            value = self.value
        elif self.path is not None:
            value = self.path.search(record, parent)
        else:
            assert self.template is not None
            try:
                value = self.template.render(record, parent)
            except LookupError:
                value = None
        if value is None:
            value = self.default
        if value is not None and self.format is not None:
            try:
                return timefmt.parse(value, self.format)
            except timefmt.TimeValueError as exc:
                raise MappingError(f"`{self.source}`: {exc}") from None
        return value


class EntityMapper:
    """Turns an endpoint's records into entities of one type."""

    def __init__(
        self,
        endpoint: str,
        entity_type: str,
        fields: Mapping[str, FieldMapping | Mapping[str, Any]] | None,
        primary_key: list[str] | None,
        *,
        service: str | None = None,
        cursor: tuple[str, str] | None = None,
    ) -> None:
        """Raises ValueError naming the problem when the mapping cannot fit the entity type."""
        self.endpoint = endpoint
        self.entity_type = entity_type
        model = ENTITY_TYPES.get(entity_type)
        if model is None or entity_type == "lineage":
            known = ", ".join(sorted(t for t in ENTITY_TYPES if t != "lineage"))
            raise ValueError(f"entity {entity_type!r} is not an entity type; use one of {known}")
        self.model: type[Entity] = Record if entity_type == RECORD else model
        self.rules = {name: _Rule(spec) for name, spec in (fields or {}).items()}
        self.primary_key = [Expression(k) for k in primary_key or []]
        self.cursor = (Expression(cursor[0]), cursor[1]) if cursor else None
        self.service = service
        self.names: dict[str, str] = {}  # field as written -> the model's field name
        self.fill_service = False
        self.fill_cursor = False
        self.str_fields: set[str] = set()
        if entity_type == RECORD:
            if not self.primary_key:
                raise ValueError("entity record needs primary_key: the field(s) that identify one")
        else:
            self._check_fields(model)

    def _check_fields(self, model: type[Entity]) -> None:
        if self.primary_key:
            raise ValueError(
                f"primary_key is for entity record; a {self.entity_type} is keyed by its FQN"
            )
        by_name = {}
        for name, info in model.model_fields.items():
            by_name[name] = name
            if info.alias:
                by_name[info.alias] = name
        for given in self.rules:
            if given not in by_name:
                fields = ", ".join(sorted(model.model_fields))
                raise ValueError(f"{self.entity_type} has no field {given!r}; its fields: {fields}")
            self.names[given] = by_name[given]
        mapped = set(self.names.values())
        self.fill_service = "service" in model.model_fields and "service" not in mapped
        if self.fill_service and self.service is None:
            raise ValueError(
                f"a {self.entity_type} belongs to a service: add a `service:` block, or map "
                "its `service` field"
            )
        self.fill_cursor = "updated_at" in model.model_fields and "updated_at" not in mapped
        if self.cursor is not None and "updated_at" not in model.model_fields:
            raise ValueError(
                f"a {self.entity_type} has no updated_at field to carry the cursor; read this "
                "endpoint without a cursor"
            )
        self.str_fields = {
            name
            for name, info in model.model_fields.items()
            if info.annotation in (str, str | None)
        }
        missing = [
            name
            for name, info in model.model_fields.items()
            if info.is_required()
            and name not in mapped
            and not (name == "service" and self.fill_service)
        ]
        if missing:
            raise ValueError(
                f"a {self.entity_type} needs field(s) {', '.join(missing)}: map them "
                '(a constant is {value: "..."})'
            )

    def cursor_of(self, record: JSON, parent: JSON = None) -> datetime | None:
        """The record's cursor value as an aware datetime (None when the endpoint has none)."""
        if self.cursor is None:
            return None
        expression, fmt = self.cursor
        try:
            value = expression.search(record, parent)
        except EvaluationError as exc:
            raise MappingError(f"cursor field {exc}") from None
        if value is None:
            raise MappingError(f"cursor field `{expression.text}` is missing")
        try:
            return timefmt.parse(value, fmt)
        except timefmt.TimeValueError as exc:
            raise MappingError(f"cursor field `{expression.text}`: {exc}") from None

    def label(self, record: JSON, parent: JSON, index: int) -> str:
        """How errors name a record: its key or name when it has one, else its position."""
        try:
            if self.primary_key:
                return self._key(record, parent)
            name = record.get("name") if isinstance(record, dict) else None
            rule = self.rules.get("name")
            if rule is not None:
                name = rule.apply(record, parent)
        except (MappingError, LookupError, EvaluationError):
            name = None
        return str(name) if name not in (None, "") else f"#{index}"

    def map(self, record: JSON, parent: JSON = None, cursor: datetime | None = None) -> Entity:
        """The entity for one record; `MappingError` says which field failed and why."""
        try:
            return self._map(record, parent, cursor)
        except EvaluationError as exc:
            raise MappingError(str(exc)) from None

    def _map(self, record: JSON, parent: JSON, cursor: datetime | None) -> Entity:
        if self.entity_type == RECORD:
            return self._record(record, parent, cursor)
        data: dict[str, Any] = {}
        for given, rule in self.rules.items():
            value = rule.apply(record, parent)
            name = self.names[given]
            if value is None:
                if self.model.model_fields[name].is_required():
                    raise MappingError(
                        f"field {given} is mapped from `{rule.source}`, which the record lacks"
                    )
                continue
            if (
                name in self.str_fields
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                value = str(value)  # ids are often numbers; names and descriptions are text
            data[name] = _without_nulls(value)
        if self.fill_service:
            data["service"] = self.service
        if self.fill_cursor and cursor is not None:
            data["updated_at"] = cursor
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            raise MappingError(self._describe(exc)) from None

    def _record(self, record: JSON, parent: JSON, cursor: datetime | None) -> Entity:
        key = self._key(record, parent)
        if self.rules:
            data = {name: rule.apply(record, parent) for name, rule in self.rules.items()}
        else:
            data = record if isinstance(record, dict) else {"value": record}
        return Record(endpoint=self.endpoint, id=key, data=data, updated_at=cursor)

    def _key(self, record: JSON, parent: JSON) -> str:
        parts = []
        for expression in self.primary_key:
            value = expression.search(record, parent)
            if value is None or value == "":
                raise MappingError(f"primary key `{expression.text}` is missing")
            parts.append(str(value))
        return "/".join(parts)

    def _describe(self, exc: ValidationError) -> str:
        aliases = {info.alias: name for name, info in self.model.model_fields.items()}
        sources = {self.names[g]: (g, rule.source) for g, rule in self.rules.items()}
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            field = aliases.get(field, field)
            given, source = sources.get(field, (field, None))
            where = ".".join([given, *(str(p) for p in error["loc"][1:])])
            origin = f" (mapped from `{source}`)" if source else ""
            problems.append(f"field {where}: {error['msg']}{origin}")
        return "; ".join(problems)


def _without_nulls(value: JSON) -> JSON:
    """A JSON null inside a mapped object is an absent key (a projection yields nulls for the
    keys a record lacks), so the model's default applies."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
