"""The filter keeps or drops entities by type and FQN pattern, and says why it dropped one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from syncer.models import Database, Table
from syncer.processors.filter import FilterConfig, FilterProcessor
from syncer.steps import Filtered

ORDERS = Table(name="orders", database_schema="shop.main.sales")
TMP = Table(name="tmp_orders", database_schema="shop.main.sales")
DB = Database(name="main", service="shop")


def run(entity: Table | Database, **config: object) -> Table | Database | Filtered:
    return FilterProcessor(FilterConfig.model_validate(config)).process(entity)


def test_an_empty_filter_keeps_everything() -> None:
    assert run(ORDERS) is ORDERS
    assert run(DB) is DB


def test_only_the_listed_entity_types_are_kept() -> None:
    assert run(ORDERS, entity_types=["table"]) is ORDERS
    assert run(DB, entity_types=["table"]) == Filtered("entity type database is not kept")


def test_an_include_pattern_must_match_somewhere_in_the_fqn() -> None:
    assert run(ORDERS, include=[r"\.sales\."]) is ORDERS
    assert run(ORDERS, include=[r"^shop\.main\.hr\.", r"\.finance\."]) == Filtered(
        "FQN matches no include pattern"
    )


def test_an_exclude_pattern_drops_a_match_and_names_the_pattern() -> None:
    assert run(TMP, exclude=[r"\.tmp_"]) == Filtered(r"FQN matches exclude pattern '\\.tmp_'")
    assert run(ORDERS, exclude=[r"\.tmp_"]) is ORDERS


def test_exclude_wins_over_include() -> None:
    assert isinstance(run(TMP, include=["sales"], exclude=["tmp_"]), Filtered)


def test_an_invalid_pattern_is_refused_when_the_config_is_read() -> None:
    with pytest.raises(ValidationError, match=r"'\[a' is not a valid regex"):
        FilterConfig(exclude=["[a"])


def test_an_unknown_filter_option_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        FilterConfig.model_validate({"excludes": ["x"]})
