"""dbt tests as OpenMetadata test cases, and `run_results.json` as their results.

Pure: JSON in, entities out. dbt's core generic tests map to OpenMetadata's own test
definitions; every other test keeps a `dbt…` definition named after it (see `definition_of`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from syncer.connectors.dbt.mapping import (
    Json,
    Naming,
    nodes_of,
    tag_labels,
    tag_names,
    upstream_relations,
)
from syncer.models import (
    TestCase,
    TestCaseParameterValue,
    TestCaseResult,
    TestCaseStatus,
    TestResultValue,
)

# dbt's generic tests that OpenMetadata has a definition for.
DEFINITIONS = {
    "not_null": "columnValuesToBeNotNull",
    "unique": "columnValuesToBeUnique",
    "accepted_values": "columnValuesToBeInSet",
}
# A singular test (a SQL file under tests/) is a query of its own, with no generic definition.
SINGULAR = "dbtSingularTest"
# Test kwargs that say where a test runs, not what it checks.
_WHERE_KWARGS = frozenset({"column_name", "model"})
_STATUSES: dict[str, TestCaseStatus] = {
    "pass": "Success",
    "success": "Success",
    "fail": "Failed",
    # A warning is a failure whose severity let the build go on: rows still broke the test.
    "warn": "Failed",
    "error": "Aborted",  # the test could not run (bad SQL, lost connection)
    "runtime error": "Aborted",
    "skipped": "Aborted",  # an upstream model failed, so the test never ran
}
# Nothing ran: the result of an earlier invocation was reused (dbt Fusion) or not executed.
_NOT_RUN = frozenset({"reused", "no-op"})
# The dbt commands (`args.which` in run_results.json) that execute tests. `retry` re-runs the
# failed and skipped nodes of the command before it, a build or a test. Every other command
# writes run_results.json too, with its own statuses for the nodes it handled: `docs generate`
# and `compile` say `success` for each test they compiled; run, seed, snapshot, clone, show,
# run-operation and source freshness run no tests. Their results are not test results.
TESTING_COMMANDS = frozenset({"build", "test", "retry"})
_COMMANDS = {"generate": "docs generate", "freshness": "source freshness"}  # as a user types them


@dataclass
class Quality:
    """The project's test cases, and which test case FQNs each dbt test unique_id fills."""

    test_cases: list[TestCase] = field(default_factory=list)
    bindings: dict[str, list[str]] = field(default_factory=dict)


def definition_of(node: Mapping[str, Any]) -> str:
    """OpenMetadata's test definition for a dbt test node.

    not_null, unique and accepted_values are OpenMetadata's columnValuesToBeNotNull,
    columnValuesToBeUnique and columnValuesToBeInSet. Any other generic test is `dbt` and its
    name in PascalCase, after its package without a `dbt_` prefix: relationships is
    dbtRelationships, dbt_utils.expression_is_true is dbtUtilsExpressionIsTrue. A singular test
    is dbtSingularTest.
    """
    meta = node.get("test_metadata") or {}
    name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "")
    if not name:
        return SINGULAR
    if not namespace and name in DEFINITIONS:
        return DEFINITIONS[name]
    words = [*namespace.removeprefix("dbt_").split("_"), *name.split("_")]
    return "dbt" + "".join(w[:1].upper() + w[1:] for w in words if w)


def build_quality(
    manifest: Mapping[str, Any],
    relations: Mapping[str, str],
    tables_columns: Mapping[str, list[str]],
    naming: Naming,
) -> Quality:
    """Test cases for every test node, bound to the table (and column) it checks.

    A generic test is bound to the node it is attached to; a test without one (a singular
    test, or one on a source) to every table it reads, as OpenMetadata's dbt ingestion does.
    """
    quality = Quality()
    nodes = dict(nodes_of(manifest))
    for uid, node in nodes.items():
        if (
            node.get("resource_type") != "test"
            or (node.get("config") or {}).get("enabled") is False
        ):
            continue
        attached = relations.get(str(node.get("attached_node")))
        targets = [attached] if attached else upstream_relations(node, nodes, relations)
        fqns = quality.bindings.setdefault(uid, [])
        for table in targets:
            case = _test_case(node, table, tables_columns.get(table, []), naming)
            quality.test_cases.append(case)
            fqns.append(case.fqn)
    return quality


def _test_case(node: Json, table: str, columns: list[str], naming: Naming) -> TestCase:
    meta = node.get("test_metadata") or {}
    kwargs: dict[str, Any] = dict(meta.get("kwargs") or {})
    stated = node.get("column_name") or kwargs.get("column_name")
    # Bound to the column when the table has it; a test on an expression is the table's.
    column = next((c for c in columns if stated and c.lower() == str(stated).lower()), None)
    definition = definition_of(node)
    return TestCase(
        name=str(node["name"]),
        table=table,
        column=column,
        test_definition=definition,
        description=node.get("description") or None,
        tags=tag_labels(tag_names(node), naming),
        parameter_values=_parameters(definition, kwargs),
    )


def _parameters(definition: str, kwargs: Mapping[str, Any]) -> list[TestCaseParameterValue]:
    if definition == DEFINITIONS["accepted_values"]:
        values = list(kwargs.get("values") or [])
        return [TestCaseParameterValue(name="allowedValues", value=_text(values))]
    if definition in DEFINITIONS.values():
        return []
    return [
        TestCaseParameterValue(name=str(name), value=_text(value))
        for name, value in sorted(kwargs.items())
        if name not in _WHERE_KWARGS and value is not None
    ]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


# --- results -----------------------------------------------------------------------------------


def other_command(run_results: Mapping[str, Any]) -> str | None:
    """The dbt command that wrote `run_results.json`, as a user types it (`dbt docs generate`),
    when it is one that executes no tests; None for build, test and retry, and for a file that
    does not say which command wrote it."""
    which = (run_results.get("args") or {}).get("which")
    if not isinstance(which, str) or not which or which in TESTING_COMMANDS:
        return None
    return f"dbt {_COMMANDS.get(which, which)}"


def results_of(
    run_results: Mapping[str, Any], bindings: Mapping[str, list[str]], generated_at: datetime
) -> Iterator[TestCaseResult]:
    """One result per executed test and test case it fills, stamped with when the test finished
    (dbt's `execute` timing), or when the file was written if the test has no timing."""
    for result in run_results.get("results") or []:
        uid = str(result.get("unique_id") or "")
        status = str(result.get("status") or "").lower()
        cases = bindings.get(uid)
        if not cases or status in _NOT_RUN:
            continue  # not a test of this manifest (a model, a unit test, a removed test)
        failures = result.get("failures")
        for case in cases:
            yield TestCaseResult(
                test_case=case,
                timestamp=millis(_finished(result) or generated_at),
                test_case_status=_STATUSES.get(status, "Aborted"),
                result=result.get("message") or None,
                failed_rows=failures if isinstance(failures, int) else None,
                test_result_value=(
                    [TestResultValue(name="failures", value=str(failures))]
                    if isinstance(failures, int)
                    else []
                ),
            )


def _finished(result: Mapping[str, Any]) -> datetime | None:
    for timing in result.get("timing") or []:
        if timing.get("name") == "execute" and timing.get("completed_at"):
            try:
                value = datetime.fromisoformat(str(timing["completed_at"]))
            except ValueError:
                return None
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def millis(value: datetime) -> int:
    """Milliseconds since the epoch, OpenMetadata's timestamps."""
    return int(value.timestamp() * 1000)
