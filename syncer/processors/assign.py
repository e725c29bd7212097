"""Sets owners, domain, tags and tier on entities whose FQN matches a rule.

Every rule whose `match` regex is found in an entity's FQN (and whose `entity_types`, if given,
include the entity's type) applies, in the order written; a rule does not stop the ones after
it. So a broad rule can set the domain of a whole schema and a narrower one, further down, add
an owner to some of its tables. With `mode: add` (the default) owners and tags are added to
what the entity already has; with `mode: replace` they replace it (including what an earlier
rule added). Domain and tier hold one value: a later rule's wins. The tier is the tag
`Tier.TierN` and replaces any other `Tier.*` tag; `mode: replace` of tags keeps the tier.
OpenMetadata takes one team or any number of users as owners: where adding would mix them, the
rule's owners replace the entity's.

Entities without owners, domain or tags (lineage edges, test case results) pass unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from syncer import fqn as _fqn
from syncer.models import Entity, EntityReference, TagLabel
from syncer.patterns import check_regex
from syncer.processors._common import Scope, check_entity_types, has_field, rebuild
from syncer.steps import Processor, StepConfig

TIER = "Tier"


class Owner(StepConfig):
    type: Literal["user", "team"]
    """A user or a team."""
    name: str = Field(min_length=1)
    """The user's or team's name (its FQN in OpenMetadata)."""


class AssignRule(StepConfig):
    match: str | None = None
    """FQN regex (searched); None: every entity."""
    entity_types: list[str] | None = None
    """Only these entity types, e.g. [table, databaseSchema]; unset: every type."""
    owners: list[Owner] | None = None
    """Owners to set; unset leaves them alone."""
    domain: str | None = None
    """The domain's FQN."""
    tags: list[str] | None = None
    """Tag FQNs, e.g. Finance.Confidential."""
    tier: Literal["Tier1", "Tier2", "Tier3", "Tier4", "Tier5"] | None = None
    """The tier (the tag Tier.TierN); unset leaves it alone."""
    mode: Literal["add", "replace"] = "add"
    """add: owners and tags join the entity's; replace: they replace them."""

    _types = field_validator("entity_types")(check_entity_types)

    @field_validator("match")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return None if pattern is None else check_regex(pattern)

    @field_validator("tags")
    @classmethod
    def _tag_fqns(cls, tags: list[str] | None) -> list[str] | None:
        for tag in tags or []:
            try:
                parts = _fqn.split(tag)
            except _fqn.FQNError as exc:
                raise ValueError(f"tag {tag!r}: {exc}") from None
            if len(parts) < 2:
                raise ValueError(f"tag {tag!r} must be Classification.Tag, e.g. PII.Sensitive")
            if parts[0] == TIER:
                raise ValueError(f"tag {tag!r}: set the tier with `tier: {parts[-1]}`")
        return tags

    @model_validator(mode="after")
    def _sets_something(self) -> AssignRule:
        if self.owners is None and self.domain is None and self.tags is None and not self.tier:
            raise ValueError("the rule sets nothing: give owners, domain, tags or tier")
        teams = [o for o in self.owners or [] if o.type == "team"]
        if teams and len(self.owners or []) > 1:
            raise ValueError("OpenMetadata takes either one team or any number of users as owners")
        return self


class AssignConfig(StepConfig):
    rules: list[AssignRule] = Field(min_length=1)
    """Rules applied in order; each one that matches applies."""


@dataclass(frozen=True, slots=True)
class _Rule:
    scope: Scope
    spec: AssignRule

    def apply(self, entity: Entity, fields: dict[str, Any]) -> None:
        """Change `fields` (the values being built for `entity`) as the rule says."""
        rule = self.spec
        if rule.owners is not None and has_field(entity, "owners"):
            new = [EntityReference(type=o.type, fully_qualified_name=o.name) for o in rule.owners]
            fields["owners"] = new if rule.mode == "replace" else _add_owners(fields["owners"], new)
        if rule.domain is not None and has_field(entity, "domain"):
            fields["domain"] = rule.domain
        if has_field(entity, "tags"):
            tags: list[TagLabel] = fields["tags"]
            if rule.tags is not None:
                kept = tags if rule.mode == "add" else [t for t in tags if _is_tier(t)]
                tags = _add_tags(kept, rule.tags)
            if rule.tier is not None:
                tier = f"{TIER}.{rule.tier}"
                tags = _add_tags([t for t in tags if not _is_tier(t) or t.tag_fqn == tier], [tier])
            fields["tags"] = tags


class AssignProcessor(Processor):
    config_model = AssignConfig
    config: AssignConfig

    def __init__(self, config: AssignConfig) -> None:
        super().__init__(config)
        self._rules = [_Rule(Scope.of(r.entity_types, r.match), r) for r in config.rules]

    def process(self, entity: Entity) -> Entity:
        rules = [r for r in self._rules if r.scope.covers(entity)]
        names = [n for n in ("owners", "domain", "tags") if has_field(entity, n)]
        if not rules or not names:
            return entity
        fields: dict[str, Any] = {n: getattr(entity, n) for n in names}
        for rule in rules:
            rule.apply(entity, fields)
        if all(fields[n] == getattr(entity, n) for n in names):
            return entity
        return rebuild(entity, **fields)


def _label(tag: str) -> TagLabel:
    return TagLabel(tag_fqn=tag, source="Classification", label_type="Automated")


def _is_tier(label: TagLabel) -> bool:
    return label.tag_fqn.startswith(f"{TIER}.")


def _add_tags(labels: list[TagLabel], tags: list[str]) -> list[TagLabel]:
    """`labels` and a label for each tag they do not hold yet (a held one keeps its label)."""
    held = {label.tag_fqn for label in labels}
    return [*labels, *(_label(t) for t in dict.fromkeys(tags) if t not in held)]


def _add_owners(owners: list[EntityReference], new: list[EntityReference]) -> list[EntityReference]:
    """`owners` and the new ones, except that a team owns alone (OpenMetadata takes one team
    or any number of users): where both would be owners, the rule's owners win."""
    held = {(o.type, o.fully_qualified_name) for o in owners}
    merged = [*owners, *(o for o in new if (o.type, o.fully_qualified_name) not in held)]
    if len(merged) > 1 and any(o.type == "team" for o in merged):
        return new
    return merged
