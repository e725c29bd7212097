"""The policy processor checks entities against declarative rules and flags those that break one;
the engine decides what happens to them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from syncer.models import (
    Column,
    EntityReference,
    LineageEdge,
    Table,
    TableType,
    TagLabel,
    TestCaseResult,
)
from syncer.processors.policy import PolicyConfig, PolicyProcessor
from syncer.steps import Flagged, Violation

# The two examples, as a user writes them.
EXAMPLES = yaml.safe_load(
    r"""
rules:
  - name: finance-tables-have-owners
    entity_types: [table]
    fqn: '\.finance\.[^.]+$'
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
"""
)
SENSITIVE = [TagLabel(tag_fqn="PII.Sensitive")]


def ledger(**fields: Any) -> Table:
    return Table(name="ledger", database_schema="erp.erp.finance", **fields)


def run(entity: Any, *rules: dict[str, Any]) -> Any:
    return PolicyProcessor(PolicyConfig.model_validate({"rules": list(rules)})).process(entity)


def check(entity: Any, config: dict[str, Any] = EXAMPLES) -> Any:
    return PolicyProcessor(PolicyConfig.model_validate(config)).process(entity)


def messages(result: Any) -> list[str]:
    assert isinstance(result, Flagged)
    return [v.message for v in result.violations]


def test_a_finance_table_without_an_owner_is_flagged_to_fail_the_run() -> None:
    entity = ledger()
    assert check(entity) == Flagged(
        entity,
        (
            Violation(
                "finance-tables-have-owners",
                "fail",
                "table erp.erp.finance.ledger: owners must not be empty"
                " (rule finance-tables-have-owners)",
            ),
        ),
    )


def test_a_finance_table_with_an_owner_passes_unchanged() -> None:
    entity = ledger(owners=[EntityReference(type="team", fully_qualified_name="Finance")])
    assert check(entity) is entity


def test_tables_outside_finance_are_not_held_to_the_finance_rule() -> None:
    entity = Table(name="orders", database_schema="shop.shop.sales")
    assert check(entity) is entity
    nested = Table(name="x", database_schema="erp.finance.archive")  # `finance` not the schema
    assert check(nested) is nested


def test_each_sensitive_column_without_a_description_is_named() -> None:
    owned = [EntityReference(type="team", fully_qualified_name="Finance")]
    columns = [
        Column(name="iban", data_type="VARCHAR", tags=SENSITIVE),
        Column(name="email", data_type="VARCHAR", tags=SENSITIVE, description="  "),
        Column(name="owner_name", data_type="VARCHAR", tags=SENSITIVE, description="Holder"),
        Column(name="amount", data_type="DECIMAL"),  # not sensitive: no description needed
    ]
    assert messages(check(ledger(owners=owned, columns=columns))) == [
        "table erp.erp.finance.ledger: columns.iban.description must not be empty"
        " (rule sensitive-columns-are-described)",
        "table erp.erp.finance.ledger: columns.email.description must not be empty"
        " (rule sensitive-columns-are-described)",
    ]


def test_every_broken_rule_is_listed_once_per_entity_or_item() -> None:
    columns = [Column(name="iban", data_type="VARCHAR", tags=SENSITIVE)]
    result = check(ledger(columns=columns))
    assert [v.rule for v in result.violations] == [
        "finance-tables-have-owners",
        "sensitive-columns-are-described",
    ]


def test_the_rules_message_is_used_with_the_entity_and_item_named() -> None:
    rule = {
        "name": "described",
        "each": "columns",
        "field": "description",
        "exists": True,
        "message": "document every column",
        "action": "warn",
    }
    columns = [Column(name="iban", data_type="VARCHAR")]
    assert messages(run(ledger(columns=columns), rule)) == [
        "table erp.erp.finance.ledger: columns.iban: document every column (rule described)"
    ]


def test_the_default_action_is_warn() -> None:
    result = run(ledger(), {"name": "owned", "field": "owners", "not_empty": True})
    assert result.violations[0].action == "warn"


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"field": "description", "exists": True}, True),
        ({"field": "displayName", "exists": True}, False),
        ({"field": "displayName", "empty": True}, True),
        ({"field": "tableType", "equals": "Regular"}, True),
        ({"field": "tableType", "not_equals": "Regular"}, False),
        ({"field": "tableType", "in": ["View", "Regular"]}, True),
        ({"field": "tableType", "not_in": ["View", "Regular"]}, False),
        ({"field": "description", "matches": r"^Posted"}, True),
        ({"field": "description", "not_matches": r"(?i)todo"}, True),
        ({"field": "description", "contains": "entries"}, True),
        ({"field": "tags", "contains": "Tier.Tier1"}, True),
        ({"field": "tags", "not_contains": "PII.Sensitive"}, True),
        ({"field": "owners", "contains": "Finance"}, True),
        ({"field": "owners", "matches": "^Fin"}, True),
        ({"field": "owners", "empty": True}, False),
    ],
)
def test_conditions(condition: dict[str, Any], holds: bool) -> None:
    entity = ledger(
        description="Posted journal entries",
        table_type=TableType.REGULAR,
        tags=[TagLabel(tag_fqn="Tier.Tier1")],
        owners=[EntityReference(type="team", fully_qualified_name="Finance")],
    )
    result = run(entity, {"name": "r", **condition})
    assert (result is entity) is holds


def test_a_nested_field_is_reached_by_a_dotted_path() -> None:
    edge = LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name="a.b.c.d"),
        to_entity=EntityReference(type="dashboard", fully_qualified_name="bi.board"),
    )
    rule = {"name": "tables-only", "field": "toEntity.type", "equals": "table"}
    assert messages(run(edge, rule)) == [
        "lineage a.b.c.d->bi.board: toEntity.type must equal 'table' (rule tables-only)"
    ]


def test_a_rule_skips_entity_types_without_its_field() -> None:
    result = TestCaseResult(test_case="a.b.c.d.ok", timestamp=1, test_case_status="Success")
    assert run(result, {"name": "owned", "field": "owners", "not_empty": True}) is result


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"field": "owners"}, "give exactly one condition of exists, not_empty, empty"),
        ({"field": "owners", "empty": True, "exists": True}, r"\(found: exists, empty\)"),
        ({"field": "owners", "not_empty": False}, "write `true`, or use the opposite condition"),
        ({"field": "owner", "not_empty": True}, r"no entity has a field 'owner' \(did you mean"),
        ({"field": "columns.*.name", "exists": True}, "'\\*' is not allowed here"),
        ({"field": "name", "matches": "(a"}, r"'\(a' is not a valid regex"),
        ({"field": "name", "exists": True, "fqn": "[a"}, r"'\[a' is not a valid regex"),
        ({"field": "name", "exists": True, "action": "stop"}, "'warn', 'drop' or 'fail'"),
        (
            {"field": "name", "exists": True, "where": {"field": "tags", "contains": "x"}},
            "`where` selects items of `each`: give `each` too",
        ),
        ({"field": "name", "exists": True, "entity_types": ["tbl"]}, "unknown entity type"),
    ],
)
def test_a_bad_rule_is_refused_with_what_is_wrong(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PolicyConfig.model_validate({"rules": [{"name": "r", **rule}]})


def test_rule_names_must_be_unique() -> None:
    rule = {"name": "r", "field": "owners", "not_empty": True}
    with pytest.raises(ValidationError, match="rule names must be unique; repeated: r"):
        PolicyConfig.model_validate({"rules": [rule, rule]})
