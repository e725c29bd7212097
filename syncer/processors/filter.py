"""Keeps or drops entities by type and by FQN pattern; dropped ones are counted as filtered."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from syncer.models import Entity
from syncer.steps import Filtered, Processor, StepConfig


class FilterConfig(StepConfig):
    entity_types: list[str] | None = None  # keep only these types; None keeps every type
    # FQN regexes: with `include`, an entity must match one; matching an `exclude` drops it.
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("include", "exclude")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regex ({exc})") from None
        return patterns


class FilterProcessor(Processor):
    config_model = FilterConfig
    config: FilterConfig

    def __init__(self, config: FilterConfig) -> None:
        super().__init__(config)
        self._types = set(config.entity_types) if config.entity_types is not None else None
        self._include = [re.compile(p) for p in config.include]
        self._exclude = [re.compile(p) for p in config.exclude]

    def process(self, entity: Entity) -> Entity | Filtered:
        if self._types is not None and entity.entity_type not in self._types:
            return Filtered(f"entity type {entity.entity_type} is not kept")
        fqn = entity.fqn
        if self._include and not any(p.search(fqn) for p in self._include):
            return Filtered("FQN matches no include pattern")
        for pattern in self._exclude:
            if pattern.search(fqn):
                return Filtered(f"FQN matches exclude pattern {pattern.pattern!r}")
        return entity
