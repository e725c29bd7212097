"""Keeps or drops entities by type and by FQN pattern; dropped ones are counted as filtered."""

from __future__ import annotations

from pydantic import Field, field_validator

from syncer.models import Entity
from syncer.patterns import IncludeExclude, check_regexes
from syncer.steps import Filtered, Processor, StepConfig


class FilterConfig(StepConfig):
    entity_types: list[str] | None = None
    """Keep only these types; None keeps every type."""
    include: list[str] = Field(default_factory=list)
    """FQN regexes: with `include`, an entity must match one; matching an `exclude` drops it."""
    exclude: list[str] = Field(default_factory=list)
    """FQN regexes: an entity that matches one is dropped."""

    _compiles = field_validator("include", "exclude")(check_regexes)


class FilterProcessor(Processor):
    config_model = FilterConfig
    config: FilterConfig

    def __init__(self, config: FilterConfig) -> None:
        super().__init__(config)
        self._types = set(config.entity_types) if config.entity_types is not None else None
        self._fqns = IncludeExclude.of(config.include, config.exclude)

    def process(self, entity: Entity) -> Entity | Filtered:
        if self._types is not None and entity.entity_type not in self._types:
            return Filtered(f"entity type {entity.entity_type} is not kept")
        fqn = entity.fqn
        if not self._fqns.included(fqn):
            return Filtered("FQN matches no include pattern")
        if (pattern := self._fqns.excluded_by(fqn)) is not None:
            return Filtered(f"FQN matches exclude pattern {pattern.pattern!r}")
        return entity
