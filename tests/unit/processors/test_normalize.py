"""The normalize processor cleans up names and display names and keeps every FQN consistent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from syncer.models import (
    Column,
    ColumnLineage,
    Database,
    DatabaseSchema,
    EntityReference,
    LineageEdge,
    Table,
    TableConstraint,
    TestCase,
    TestCaseResult,
)
from syncer.processors.normalize import NameRules, NormalizeConfig, NormalizeProcessor, normalize
from syncer.steps import RecordError

LOWER = {"names": {"case": "lower"}}


class Normalizer:
    """One processor instance (one run), its results typed loosely for the assertions."""

    def __init__(self, **config: Any) -> None:
        self.processor = NormalizeProcessor(NormalizeConfig.model_validate(config))

    def process(self, entity: Any) -> Any:
        return self.processor.process(entity)


def processor(**config: Any) -> Normalizer:
    return Normalizer(**config)


def run(entity: Any, **config: Any) -> Any:
    return processor(**config).process(entity)


def orders(*columns: str, schema: str = "Shop.Db.Main", name: str = "Orders") -> Table:
    cols = [Column(name=c, data_type="INT") for c in columns]
    return Table(name=name, database_schema=schema, columns=cols)


def test_names_are_lowercased_and_so_are_the_parents_in_their_fqn() -> None:
    result = run(orders("ID"), **LOWER)
    assert result.fqn == "shop.db.main.orders"
    assert result.database_schema == "shop.db.main"
    assert [c.name for c in result.columns] == ["id"]


def test_whitespace_is_stripped_collapsed_and_spaces_replaced() -> None:
    rules = NameRules(case="lower", replace_spaces_with="_")
    assert normalize("  Order   Line\tItems ", rules) == "order_line_items"
    assert normalize("  Order   Items ", NameRules()) == "Order Items"
    assert normalize(" A  B ", NameRules(strip=False, collapse_whitespace=False)) == " A  B "


def test_display_names_have_their_own_rules() -> None:
    entity = orders().model_copy(update={"display_name": "  customer   orders "})
    result = run(entity, names=None, display_names={"case": "upper"})
    assert result.display_name == "CUSTOMER ORDERS"
    assert result.name == "Orders"


def test_normalizing_only_schemas_changes_the_schema_part_of_table_fqns_too() -> None:
    config = {"entity_types": ["databaseSchema"], **LOWER}
    norm = processor(**config)
    schema = norm.process(DatabaseSchema(name="Main", database="Shop.Db"))
    table = norm.process(orders("ID"))
    assert schema.fqn == "Shop.Db.main"
    assert table.database_schema == schema.fqn
    assert table.name == "Orders"
    assert [c.name for c in table.columns] == ["ID"]


def test_an_fqn_scope_is_decided_on_each_parents_original_fqn() -> None:
    config = {"fqn": r"^Shop\.Db\.Main$", **LOWER}
    assert run(orders(), **config).database_schema == "Shop.Db.main"
    assert run(DatabaseSchema(name="Main", database="Shop.Db"), **config).name == "main"
    assert run(Database(name="Db", service="Shop"), **config).name == "Db"


def test_a_name_with_a_dot_stays_quoted_in_the_fqn() -> None:
    result = run(orders(name="Order.Archive"), **LOWER)
    assert result.fqn == 'shop.db.main."order.archive"'


def test_service_names_of_databases_are_normalized() -> None:
    assert run(Database(name="Db", service="Shop"), **LOWER).service == "shop"


def test_columns_are_renamed_in_constraints_and_foreign_keys() -> None:
    table = orders("Customer ID").model_copy(
        update={
            "table_constraints": [
                TableConstraint(
                    constraint_type="FOREIGN_KEY",
                    columns=["Customer ID"],
                    referred_columns=["Shop.Db.Main.Customers.Customer ID"],
                )
            ]
        }
    )
    result = run(table, names={"case": "lower", "replace_spaces_with": "_"})
    assert [c.name for c in result.columns] == ["customer_id"]
    assert result.table_constraints[0].columns == ["customer_id"]
    assert result.table_constraints[0].referred_columns == ["shop.db.main.customers.customer_id"]


def test_column_names_can_be_left_alone() -> None:
    result = run(orders("ID"), columns=False, **LOWER)
    assert result.name == "orders"
    assert [c.name for c in result.columns] == ["ID"]


def test_nested_column_names_are_normalized() -> None:
    address = Column(
        name="Address", data_type="STRUCT", children=[Column(name="City", data_type="VARCHAR")]
    )
    result = run(Table(name="t", database_schema="s.d.x", columns=[address]), **LOWER)
    assert result.columns[0].children[0].name == "city"


def test_lineage_ends_and_column_lineage_follow_the_names() -> None:
    edge = LineageEdge(
        from_entity=EntityReference(type="table", fully_qualified_name="Shop.Db.Main.Orders"),
        to_entity=EntityReference(type="dashboard", fully_qualified_name="BI.Sales Board"),
        columns_lineage=[
            ColumnLineage(
                from_columns=["Shop.Db.Main.Orders.Total"], to_column="BI.Sales Board.Total"
            )
        ],
    )
    result = run(edge, **LOWER)
    assert result.ends == ("shop.db.main.orders", "BI.Sales Board")  # dashboards are unknown
    assert result.columns_lineage[0].from_columns == ["shop.db.main.orders.total"]
    assert result.columns_lineage[0].to_column == "BI.Sales Board.Total"


def test_test_cases_and_their_results_follow_the_table_and_column_names() -> None:
    case = TestCase(
        name="Not Null",
        table="Shop.Db.Main.Orders",
        column="ID",
        test_definition="columnValuesToBeNotNull",
    )
    result = run(case, names={"case": "lower", "replace_spaces_with": "_"})
    assert result.fqn == "shop.db.main.orders.id.not_null"
    outcome = TestCaseResult(test_case=case.fqn, timestamp=1, test_case_status="Success")
    assert run(outcome, names={"case": "lower", "replace_spaces_with": "_"}).test_case == result.fqn


def test_an_entity_already_normal_comes_back_as_it_was() -> None:
    entity = orders("id", schema="shop.db.main", name="orders")
    assert run(entity, **LOWER) is entity


def test_two_tables_that_would_merge_are_refused_naming_both() -> None:
    norm = processor(**LOWER)
    assert norm.process(orders()).fqn == "shop.db.main.orders"
    assert norm.process(orders(name="ORDERS")) == RecordError(
        "Shop.Db.Main.ORDERS",
        "normalize: table Shop.Db.Main.ORDERS normalizes to shop.db.main.orders, as"
        " Shop.Db.Main.Orders already did: rename one of them or narrow the normalize rules"
        " (entity_types, fqn)",
    )


def test_an_entity_already_lowercase_still_collides_with_a_later_one() -> None:
    norm = processor(**LOWER)
    norm.process(orders(schema="shop.db.main", name="orders"))
    assert isinstance(norm.process(orders(schema="shop.db.main", name="Orders")), RecordError)


def test_the_same_entity_seen_again_is_no_collision() -> None:
    norm = processor(**LOWER)
    assert norm.process(orders()) == norm.process(orders())


def test_the_tables_of_a_schema_that_would_merge_with_another_are_refused_too() -> None:
    norm = processor(**LOWER)
    norm.process(DatabaseSchema(name="Main", database="Shop.Db"))
    result = norm.process(orders(schema="Shop.Db.MAIN", name="Invoices"))
    assert isinstance(result, RecordError)
    assert (
        "databaseSchema Shop.Db.MAIN normalizes to shop.db.main, as Shop.Db.Main" in result.reason
    )


def test_collisions_are_tracked_per_parent() -> None:
    norm = processor(**LOWER)
    norm.process(orders())
    assert norm.process(orders(schema="Shop.Db.Archive")).fqn == "shop.db.archive.orders"


def test_two_columns_that_would_merge_make_their_table_an_error() -> None:
    result = run(orders("Total", "TOTAL"), **LOWER)
    assert result == RecordError(
        "Shop.Db.Main.Orders",
        "normalize: columns 'Total' and 'TOTAL' of table Shop.Db.Main.Orders both normalize to"
        " 'total': rename one of them or change the normalize rules",
    )


def test_a_name_that_normalizes_to_nothing_is_an_error() -> None:
    result = run(orders(name="   "))
    assert isinstance(result, RecordError)
    assert "normalizes to an empty name" in result.reason


def test_the_input_entity_is_not_changed() -> None:
    entity = orders("ID")
    run(entity, **LOWER)
    assert entity.fqn == "Shop.Db.Main.Orders"
    assert entity.columns[0].name == "ID"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"fqn": "[Shop"}, r"'\[Shop' is not a valid regex"),
        ({"entity_types": ["schema"]}, "unknown entity type 'schema'"),
        ({"names": {"case": "title"}}, "'lower', 'upper' or 'preserve'"),
        ({"names": {"lowercase": True}}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_config_is_refused_with_what_is_wrong(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NormalizeConfig.model_validate(config)
