"""How a run ends: the one exit-code rule, and the document that reports a run (checked against
the JSON Schema syncer ships)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator

from syncer.delivery import DeliveryReport
from syncer.results import Outcome, PlannedChange, RunResult, RunStatus, outcome, run_document
from syncer.schemas import run_schema
from syncer.steps import Counters

SCHEMA = Draft202012Validator(run_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
STARTED = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)


def result(status: RunStatus = "succeeded", *, refused: int = 0) -> RunResult:
    return RunResult(1, status, Counters(scanned=3, refused=refused), {})


@pytest.mark.parametrize(
    ("status", "allow_partial", "code"),
    [
        ("succeeded", False, 0),
        ("partial", False, 1),
        ("partial", True, 0),
        ("failed", False, 1),
        ("failed", True, 1),
    ],
)
def test_a_run_exits_0_only_when_it_succeeded_or_a_partial_run_is_allowed(
    status: RunStatus, allow_partial: bool, code: int
) -> None:
    assert outcome(result(status), allow_partial=allow_partial).exit_code == code


def test_a_partial_run_says_how_to_exit_0() -> None:
    assert outcome(result("partial")) == Outcome(
        1, "the run is partial: exit 1 (--allow-partial exits 0)"
    )


def test_refused_deletions_exit_1_only_with_strict_and_say_how_to_allow_them() -> None:
    refused = result(refused=2)

    assert outcome(refused) == Outcome(0)
    strict = outcome(refused, strict=True)
    assert strict.exit_code == 1
    assert strict.reason is not None
    assert strict.reason.startswith("2 deletions were refused: exit 1 (--strict); ")
    assert "--fail-safe-percent" in strict.reason and "--allow-deletions" in strict.reason
    assert str(outcome(result(refused=1), strict=True).reason).startswith("1 deletion was refused")


def test_strict_adds_to_allow_partial_and_changes_nothing_without_refusals() -> None:
    partial = RunResult(1, "partial", Counters(errors=1, refused=1), {})

    assert outcome(partial, allow_partial=True, strict=True).exit_code == 1
    assert outcome(result(), strict=True) == Outcome(0)


def test_the_document_of_a_run_matches_the_schema_and_its_counters() -> None:
    run = RunResult(
        7,
        "partial",
        Counters(scanned=5, created=4, errors=1, refused=2),
        {"tables": Counters(scanned=5, created=4, errors=1, refused=2)},
        warnings=["stream tables: deletions refused"],
        deliveries=[
            DeliveryReport("catalog", delivered=3, refused=1, waiting={"a.b": 2}),
            DeliveryReport("hook", backlog=4, error="connection refused"),
        ],
        error="sink hook: connection refused",
    )

    document = run_document(
        run, "shop", exit_code=1, started_at=STARTED, ended_at=STARTED + timedelta(seconds=2.5)
    )

    assert list(SCHEMA.iter_errors(document)) == []
    assert (document["run_id"], document["status"], document["exit_code"]) == (7, "partial", 1)
    assert document["duration_seconds"] == 2.5
    assert document["started_at"] == "2026-12-04T17:00:00+00:00"
    assert document["refused_deletions"] == 2 == document["streams"]["tables"]["refused"]
    assert document["deliveries"] == [
        {"sink": "catalog", "delivered": 3, "refused": 1, "held": 2, "backlog": 0, "error": None},
        {"sink": "hook", "delivered": 0, "refused": 0, "held": 0, "backlog": 4,
         "error": "connection refused"},
    ]  # fmt: skip
    assert "planned" not in document


def test_the_document_of_a_plan_has_no_run_id_and_lists_the_planned_changes() -> None:
    plan = RunResult(0, "succeeded", Counters(scanned=1, created=1), {})
    plan.planned.append(PlannedChange("created", "table", "svc.db.s.t", []))

    document = run_document(
        plan, "shop", exit_code=0, started_at=STARTED, ended_at=STARTED, planned=True
    )

    assert list(SCHEMA.iter_errors(document)) == []
    assert (document["kind"], document["run_id"]) == ("plan", None)
    assert document["planned"] == [
        {"kind": "created", "entity_type": "table", "key": "svc.db.s.t", "changed_fields": []}
    ]


def test_the_schema_refuses_a_document_that_lacks_a_field_or_adds_one() -> None:
    document = run_document(result(), "shop", exit_code=0, started_at=STARTED, ended_at=STARTED)

    assert list(SCHEMA.iter_errors({**document, "extra": 1}))
    missing = {k: v for k, v in document.items() if k != "exit_code"}
    assert [e.message for e in SCHEMA.iter_errors(missing)] == [
        "'exit_code' is a required property"
    ]
