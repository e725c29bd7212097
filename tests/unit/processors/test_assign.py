"""The assign processor sets owners, domain, tags and tier on entities whose FQN a rule matches."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from syncer.models import (
    DatabaseSchema,
    EntityReference,
    LineageEdge,
    Table,
    TagLabel,
    TestCaseResult,
)
from syncer.processors.assign import AssignConfig, AssignProcessor

LEDGER = Table(name="ledger", database_schema="erp.erp.finance")
ORDERS = Table(name="orders", database_schema="shop.shop.sales")
FINANCE = DatabaseSchema(name="finance", database="erp.erp")


def run(entity: Any, *rules: dict[str, Any]) -> Any:
    return AssignProcessor(AssignConfig.model_validate({"rules": list(rules)})).process(entity)


def user(name: str) -> EntityReference:
    return EntityReference(type="user", fully_qualified_name=name)


def team(name: str) -> EntityReference:
    return EntityReference(type="team", fully_qualified_name=name)


def tag_fqns(entity: Any) -> list[str]:
    return [t.tag_fqn for t in entity.tags]


def test_a_matching_rule_sets_owners_domain_tags_and_tier() -> None:
    result = run(
        LEDGER,
        {
            "match": r"\.finance\.",
            "owners": [{"type": "team", "name": "Finance"}],
            "domain": "Finance",
            "tags": ["Finance.Confidential"],
            "tier": "Tier1",
        },
    )
    assert result.owners == [team("Finance")]
    assert result.domain == "Finance"
    assert sorted(tag_fqns(result)) == ["Finance.Confidential", "Tier.Tier1"]
    assert all(t.label_type == "Automated" and t.source == "Classification" for t in result.tags)


def test_an_entity_no_rule_matches_comes_back_as_it_was() -> None:
    assert run(ORDERS, {"match": r"\.finance\.", "domain": "Finance"}) is ORDERS


def test_a_rule_can_be_limited_to_entity_types() -> None:
    rule = {"match": r"finance", "entity_types": ["databaseSchema"], "domain": "Finance"}
    assert run(FINANCE, rule).domain == "Finance"
    assert run(LEDGER, rule) is LEDGER


def test_a_rule_without_match_applies_to_every_entity() -> None:
    assert run(ORDERS, {"domain": "Commerce"}).domain == "Commerce"


def test_every_matching_rule_applies_in_order_and_later_single_values_win() -> None:
    result = run(
        LEDGER,
        {"match": r"^erp\.", "domain": "Operations", "owners": [{"type": "user", "name": "ann"}]},
        {"match": r"\.finance\.", "domain": "Finance", "owners": [{"type": "user", "name": "bob"}]},
        {"match": r"\.hr\.", "domain": "People"},
    )
    assert result.domain == "Finance"
    assert result.owners == [user("ann"), user("bob")]


def test_add_keeps_existing_owners_and_tags() -> None:
    owned = LEDGER.model_copy(
        update={"owners": [user("carl")], "tags": [TagLabel(tag_fqn="PII.Sensitive")]}
    )
    result = run(
        owned,
        {"owners": [{"type": "user", "name": "ann"}], "tags": ["Finance.Confidential"]},
    )
    assert result.owners == [user("ann"), user("carl")]
    assert sorted(tag_fqns(result)) == ["Finance.Confidential", "PII.Sensitive"]


def test_replace_drops_existing_owners_and_tags_but_keeps_the_tier() -> None:
    owned = LEDGER.model_copy(
        update={
            "owners": [user("carl")],
            "tags": [TagLabel(tag_fqn="PII.Sensitive"), TagLabel(tag_fqn="Tier.Tier2")],
        }
    )
    rule = {
        "owners": [{"type": "user", "name": "ann"}],
        "tags": ["Finance.Confidential"],
        "mode": "replace",
    }
    result = run(owned, rule)
    assert result.owners == [user("ann")]
    assert sorted(tag_fqns(result)) == ["Finance.Confidential", "Tier.Tier2"]


def test_replace_with_an_empty_list_clears_the_owners() -> None:
    owned = LEDGER.model_copy(update={"owners": [user("carl")]})
    assert run(owned, {"owners": [], "mode": "replace"}).owners == []


def test_a_tier_replaces_the_previous_tier() -> None:
    tiered = LEDGER.model_copy(update={"tags": [TagLabel(tag_fqn="Tier.Tier3")]})
    assert tag_fqns(run(tiered, {"tier": "Tier1"})) == ["Tier.Tier1"]


def test_a_tag_the_entity_already_has_keeps_its_label() -> None:
    manual = TagLabel(tag_fqn="Finance.Confidential", label_type="Manual")
    tagged = LEDGER.model_copy(update={"tags": [manual]})
    assert run(tagged, {"tags": ["Finance.Confidential"]}) is tagged


def test_a_team_owns_alone_so_adding_a_team_replaces_users() -> None:
    owned = LEDGER.model_copy(update={"owners": [user("carl")]})
    assert run(owned, {"owners": [{"type": "team", "name": "Finance"}]}).owners == [team("Finance")]


def test_entities_without_owners_domain_or_tags_pass_through() -> None:
    edge = LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name=LEDGER.fqn),
        to_entity=EntityReference(type="table", fully_qualified_name=ORDERS.fqn),
    )
    result = TestCaseResult(test_case=f"{LEDGER.fqn}.ok", timestamp=1, test_case_status="Success")
    rule = {"domain": "Finance", "tags": ["Finance.Confidential"], "tier": "Tier1"}
    assert run(edge, rule) is edge
    assert run(result, rule) is result


def test_the_input_entity_is_not_changed() -> None:
    run(LEDGER, {"domain": "Finance", "tier": "Tier1"})
    assert LEDGER.domain is None
    assert LEDGER.tags == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"match": "(finance"}, r"'\(finance' is not a valid regex"),
        ({"match": "x"}, "the rule sets nothing"),
        ({"tier": "Gold"}, "Tier1"),
        ({"tags": ["Confidential"]}, r"must be Classification\.Tag"),
        ({"tags": ["Tier.Tier1"]}, "set the tier with `tier: Tier1`"),
        ({"entity_types": ["tables"], "domain": "x"}, "unknown entity type 'tables'; known:"),
        (
            {"owners": [{"type": "team", "name": "a"}, {"type": "user", "name": "b"}]},
            "either one team or any number of users",
        ),
        ({"owners": [{"type": "group", "name": "a"}]}, "'user' or 'team'"),
    ],
)
def test_a_bad_rule_is_refused_with_what_is_wrong(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AssignConfig.model_validate({"rules": [rule]})


def test_an_assign_step_needs_at_least_one_rule() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        AssignConfig.model_validate({"rules": []})
