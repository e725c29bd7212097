"""dbt tests as OpenMetadata test cases, and run_results.json as their results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syncer.connectors.dbt.mapping import Naming, build_project
from syncer.connectors.dbt.quality import (
    Quality,
    build_quality,
    definition_of,
    other_command,
    results_of,
)
from syncer.models import TestCase, TestCaseResult
from tests.unit.connectors.dbt.runs import load

NAMING = Naming(service_name="warehouse")
GENERATED_AT = datetime(2030, 1, 1, tzinfo=UTC)


def _quality(manifest: dict[str, Any] | None = None) -> Quality:
    manifest = manifest or load("manifest.json")
    project = build_project(manifest, load("catalog.json"), NAMING)
    columns = {t.fqn: [c.name for c in t.columns] for t in project.tables}
    return build_quality(manifest, project.relations, columns, NAMING)


@pytest.fixture(scope="module")
def quality() -> Quality:
    return _quality()


def _case(quality: Quality, name: str) -> TestCase:
    return next(c for c in quality.test_cases if c.name == name)


def _results(quality: Quality, run_results: dict[str, Any]) -> dict[str, TestCaseResult]:
    return {
        r.test_case.rsplit(".", 1)[-1]: r
        for r in results_of(run_results, quality.bindings, GENERATED_AT)
    }


@pytest.mark.parametrize(
    ("test_metadata", "definition"),
    [
        ({"name": "not_null"}, "columnValuesToBeNotNull"),
        ({"name": "unique"}, "columnValuesToBeUnique"),
        ({"name": "accepted_values"}, "columnValuesToBeInSet"),
        ({"name": "relationships"}, "dbtRelationships"),
        ({"name": "expression_is_true", "namespace": "dbt_utils"}, "dbtUtilsExpressionIsTrue"),
        ({"name": "not_null", "namespace": "dbt_utils"}, "dbtUtilsNotNull"),
        (None, "dbtSingularTest"),
    ],
)
def test_dbt_tests_map_to_openmetadata_definitions(
    test_metadata: dict[str, str] | None, definition: str
) -> None:
    assert definition_of({"test_metadata": test_metadata}) == definition


def test_every_test_of_the_project_becomes_one_test_case(quality: Quality) -> None:
    assert len(quality.test_cases) == 16
    assert len({c.fqn for c in quality.test_cases}) == 16


def test_a_column_test_is_bound_to_its_table_and_column(quality: Quality) -> None:
    case = _case(quality, "not_null_customer_orders_first_order_date")
    assert case.fqn == (
        "warehouse.shop.main_marts.customer_orders.first_order_date."
        "not_null_customer_orders_first_order_date"
    )
    assert case.entity_link == (
        "<#E::table::warehouse.shop.main_marts.customer_orders::columns::first_order_date>"
    )
    assert case.test_definition == "columnValuesToBeNotNull"
    assert case.parameter_values == []


def test_accepted_values_become_the_allowed_values_of_a_set_test(quality: Quality) -> None:
    case = _case(quality, "accepted_values_stg_customers_country__GB__US__NL")
    assert case.test_definition == "columnValuesToBeInSet"
    assert [(p.name, p.value) for p in case.parameter_values] == [
        ("allowedValues", '["GB","US","NL"]')
    ]


def test_a_relationships_test_keeps_its_arguments_and_is_bound_to_the_tested_model(
    quality: Quality,
) -> None:
    case = _case(quality, "relationships_stg_orders_customer_id__customer_id__ref_stg_customers_")
    assert case.table == "warehouse.shop.main.stg_orders"
    assert case.column == "customer_id"
    assert case.test_definition == "dbtRelationships"
    assert [(p.name, p.value) for p in case.parameter_values] == [
        ("field", "customer_id"),
        ("to", "ref('stg_customers')"),
    ]


def test_singular_and_source_tests_are_bound_to_the_table_they_read(quality: Quality) -> None:
    singular = _case(quality, "assert_payments_not_negative")
    assert (singular.table, singular.column) == ("warehouse.shop.main.stg_payments", None)
    assert singular.test_definition == "dbtSingularTest"
    source = _case(quality, "source_unique_payments_app_payments_id")
    assert (source.table, source.column) == ("warehouse.shop.payments.payments", "id")


def test_a_singular_test_reading_two_tables_is_a_test_case_of_each() -> None:
    manifest = load("manifest.json")
    node = manifest["nodes"]["test.shop.assert_payments_not_negative"]
    node["depends_on"]["nodes"] = ["model.shop.stg_payments", "model.shop.orders"]
    quality = _quality(manifest)
    assert quality.bindings["test.shop.assert_payments_not_negative"] == [
        "warehouse.shop.main.stg_payments.assert_payments_not_negative",
        "warehouse.shop.main_marts.orders.assert_payments_not_negative",
    ]


def test_a_test_on_an_expression_is_bound_to_the_table() -> None:
    manifest = load("manifest.json")
    uid = "test.shop.not_null_orders_order_id.cf6c17daed"
    manifest["nodes"][uid]["column_name"] = "coalesce(order_id, 0)"
    manifest["nodes"][uid]["test_metadata"]["kwargs"]["column_name"] = "coalesce(order_id, 0)"
    case = next(c for c in _quality(manifest).test_cases if c.name == "not_null_orders_order_id")
    assert (case.table, case.column) == ("warehouse.shop.main_marts.orders", None)


def test_results_map_pass_fail_and_warn_with_the_failures_counted(quality: Quality) -> None:
    results = _results(quality, load("run_results.json"))
    passed = results["not_null_orders_order_id"]
    assert (passed.test_case_status, passed.failed_rows, passed.result) == ("Success", 0, None)
    failed = results["not_null_customer_orders_first_order_date"]
    assert failed.test_case_status == "Failed"
    assert failed.failed_rows == 2
    assert failed.result == "Got 2 results, configured to fail if != 0"
    assert [(v.name, v.value) for v in failed.test_result_value] == [("failures", "2")]
    warned = results["accepted_values_stg_customers_country__GB__US__NL"]
    assert (warned.test_case_status, warned.failed_rows) == ("Failed", 1)


def test_only_tests_have_results_and_each_is_stamped_when_it_finished(quality: Quality) -> None:
    run_results = load("run_results.json")
    results = list(results_of(run_results, quality.bindings, GENERATED_AT))
    assert len(results) == 16  # not the seeds, models, snapshot, hook or unit test
    executed = next(
        r for r in run_results["results"] if r["unique_id"].startswith("test.shop.unique_orders")
    )
    finished = next(t["completed_at"] for t in executed["timing"] if t["name"] == "execute")
    stamp = datetime.fromisoformat(finished).timestamp() * 1000
    result = _results(quality, run_results)["unique_orders_order_id"]
    assert result.timestamp == int(stamp)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("error", "Aborted"), ("skipped", "Aborted"), ("runtime error", "Aborted")],
)
def test_a_test_that_did_not_run_through_is_aborted_and_stamped_with_the_file(
    quality: Quality, status: str, expected: str
) -> None:
    run_results: dict[str, Any] = {
        "results": [
            {
                "unique_id": "test.shop.unique_orders_order_id.fed79b3a6e",
                "status": status,
                "failures": None,
                "message": "Database Error: table not found",
                "timing": [],
            }
        ]
    }
    [result] = results_of(run_results, quality.bindings, GENERATED_AT)
    assert result.test_case_status == expected
    assert result.failed_rows is None
    assert result.timestamp == int(GENERATED_AT.timestamp() * 1000)


def test_results_of_tests_the_manifest_does_not_have_are_left_out(quality: Quality) -> None:
    run_results: dict[str, Any] = {
        "results": [
            {"unique_id": "test.shop.removed_test.123", "status": "pass", "timing": []},
            {"unique_id": "test.shop.unique_orders_order_id.fed79b3a6e", "status": "reused"},
        ]
    }
    assert list(results_of(run_results, quality.bindings, GENERATED_AT)) == []


@pytest.mark.parametrize(
    ("which", "command"),
    [
        ("build", None),
        ("test", None),
        ("retry", None),
        ("generate", "dbt docs generate"),
        ("freshness", "dbt source freshness"),
        ("compile", "dbt compile"),
        ("run", "dbt run"),
        ("seed", "dbt seed"),
        ("snapshot", "dbt snapshot"),
        ("run-operation", "dbt run-operation"),
        (None, None),  # a file that does not say is read as before
    ],
)
def test_only_commands_that_execute_tests_write_test_results(
    which: str | None, command: str | None
) -> None:
    run_results = load("run_results.json")
    run_results["args"]["which"] = which
    assert other_command(run_results) == command
    assert other_command({"results": []}) is None
