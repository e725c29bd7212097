"""How the engine acts on what processors say: flagged rules, failures, one entity at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncer.models import Entity
from syncer.steps import Flagged, Processor, ProcessorResult, StepConfig, Violation
from tests.support.engine import SCHEMA, Engine, tables
from tests.support.sinks import MemorySink


class _Rules(Processor):
    """Flags every table whose name is in `broken`, with the given action."""

    config_model = StepConfig

    def __init__(self, broken: dict[str, str]) -> None:
        super().__init__(StepConfig())
        self.broken = broken

    def process(self, entity: Entity) -> ProcessorResult:
        action = self.broken.get(getattr(entity, "name", ""))
        if entity.entity_type != "table" or action is None:
            return entity
        rule = Violation("tables-have-owners", action, f"{entity.fqn} has no owner")  # type: ignore[arg-type]
        return Flagged(entity, (rule,))


class _Crashes(Processor):
    config_model = StepConfig

    def __init__(self) -> None:
        super().__init__(StepConfig())

    def process(self, entity: Entity) -> ProcessorResult:
        if getattr(entity, "name", "") == "t01":
            raise ValueError("bug on t01")
        return entity


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = Engine(tmp_path)
    engine.write_tables(tables(3))
    return engine


def _live_tables(engine: Engine) -> list[str]:
    rows = engine.rows("SELECT fqn FROM current_entities WHERE entity_type = 'table' ORDER BY 1")
    return [r[0] for r in rows]


def test_a_warning_lets_the_entity_through_and_is_listed_for_the_run(engine: Engine) -> None:
    result = engine.run(processors=[_Rules({"t00": "warn"})])
    assert result.status == "succeeded"
    assert _live_tables(engine) == [f"{SCHEMA}.t00", f"{SCHEMA}.t01", f"{SCHEMA}.t02"]
    assert engine.rows("SELECT run_id, action, rule, key, message FROM violations") == [
        (1, "warn", "tables-have-owners", f"{SCHEMA}.t00", f"{SCHEMA}.t00 has no owner")
    ]


def test_a_drop_filters_the_entity_and_counts_it(engine: Engine) -> None:
    result = engine.run(processors=[_Rules({"t01": "drop"})])
    assert result.status == "succeeded"
    assert result.counters.filtered == 1
    assert f"{SCHEMA}.t01" not in _live_tables(engine)


def test_a_fail_keeps_the_entity_out_checks_the_rest_and_fails_the_run(engine: Engine) -> None:
    sink = MemorySink()
    result = engine.run(processors=[_Rules({"t00": "fail", "t02": "fail"})], sinks={"m": sink})
    assert result.status == "failed"
    assert (
        result.error is not None and "2 entities broke rules whose action is fail" in result.error
    )
    assert "syncer violations --run 1" in result.error
    assert _live_tables(engine) == [f"{SCHEMA}.t01"]
    assert len(result.violations) == 2


def test_a_failing_rule_does_not_delete_the_entity_it_keeps_out(engine: Engine) -> None:
    engine.run()
    result = engine.run(processors=[_Rules({"t00": "fail"})])
    assert result.status == "failed"
    assert result.counters.deleted == 0
    assert f"{SCHEMA}.t00" in _live_tables(engine)


def test_a_processor_that_raises_fails_that_entity_only(engine: Engine) -> None:
    result = engine.run(processors=[_Crashes()])
    assert result.status == "partial"
    assert result.counters.errors == 1
    assert _live_tables(engine) == [f"{SCHEMA}.t00", f"{SCHEMA}.t02"]
