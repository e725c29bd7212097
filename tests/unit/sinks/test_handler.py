"""The handler sink calls a Python function with each event, through real runs: an exception
refuses that event only, later events of its entity wait behind it, and it is retried and
dead-lettered like any refused change."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from syncer.errors import ConfigError
from syncer.sinks import handler as handler_module
from syncer.sinks.handler import HandlerConfig, HandlerSink, find_handler
from tests.support import handlers
from tests.support.engine import SCHEMA, Engine, table, tables

RECORD = "tests.support.handlers:record"


@pytest.fixture(autouse=True)
def fresh_handler() -> Iterator[None]:
    handlers.RECEIVED.clear()
    handlers.FAILING.clear()
    yield
    handlers.RECEIVED.clear()
    handlers.FAILING.clear()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = Engine(tmp_path)
    engine.write_tables(tables(3))
    return engine


def sink(name: str = RECORD, **config: object) -> HandlerSink:
    return HandlerSink(HandlerConfig.model_validate({"handler": name, **config}))


def received() -> list[tuple[str, str]]:
    return [(e["eventType"], e["entityFullyQualifiedName"]) for e in handlers.RECEIVED]


def pending(engine: Engine) -> list[tuple[str, int, str, bool]]:
    return [
        (fqn, attempts, error, dead is not None)
        for fqn, attempts, error, dead in engine.rows(
            "SELECT fqn, attempts, last_error, dead_at FROM pending_changes ORDER BY seq"
        )
    ]


def test_every_event_of_a_run_reaches_the_handler_in_log_order(engine: Engine) -> None:
    result = engine.run(sinks={"h": sink()})

    assert result.deliveries[0].delivered == 6
    assert [fqn for _, fqn in received()] == [fqn for _, fqn in engine.changes()]
    assert handlers.RECEIVED[-1]["currentVersion"] == 0.1


def test_an_exception_refuses_that_event_only_and_it_is_retried_next_run(
    engine: Engine,
) -> None:
    handlers.FAILING.add(f"{SCHEMA}.t01")
    first = engine.run(sinks={"h": sink()})

    assert (first.deliveries[0].delivered, first.deliveries[0].refused) == (5, 1)
    assert pending(engine) == [
        (
            f"{SCHEMA}.t01",
            1,
            f"handler {RECORD}: ValueError: downstream rejected {SCHEMA}.t01",
            False,
        )
    ]
    handlers.FAILING.clear()
    engine.run(sinks={"h": sink()})
    assert received()[-1] == ("entityCreated", f"{SCHEMA}.t01")
    assert pending(engine) == []


def test_later_events_of_a_refused_entity_wait_behind_it_in_order(engine: Engine) -> None:
    t01 = f"{SCHEMA}.t01"
    handlers.FAILING.add(t01)
    engine.run(sinks={"h": sink()})
    engine.write_tables(
        [table("t00"), table("t01", description="v2"), table("t02", description="v2")]
    )
    engine.run(sinks={"h": sink()})

    # t01's update waits behind its refused creation; t02's goes out.
    assert ("entityUpdated", f"{SCHEMA}.t02") in received()
    assert [fqn for fqn, *_ in pending(engine)] == [t01, t01]
    assert pending(engine)[1][2].startswith("held back behind event seq")

    handlers.FAILING.clear()
    engine.run(sinks={"h": sink()})
    assert [e for e in received() if e[1] == t01] == [
        ("entityCreated", t01),
        ("entityUpdated", t01),
    ]
    assert pending(engine) == []


def test_max_attempts_dead_letters_an_event_that_keeps_failing(engine: Engine) -> None:
    handlers.FAILING.add(f"{SCHEMA}.t01")
    for _ in range(2):
        engine.run(sinks={"h": sink(max_attempts=2)})

    fqn, attempts, _, dead = pending(engine)[0]
    assert (fqn, attempts, dead) == (f"{SCHEMA}.t01", 2, True)
    third = engine.run(sinks={"h": sink(max_attempts=2)})
    assert third.deliveries[0].refused == 0  # a dead letter is not offered again


def test_a_filter_leaves_events_out_without_refusing_them(engine: Engine) -> None:
    engine.run(sinks={"h": sink(filter={"entity_types": ["table"], "fqn": "*.t0[01]"})})

    assert [fqn for _, fqn in received()] == [f"{SCHEMA}.t00", f"{SCHEMA}.t01"]
    assert pending(engine) == []


# --- finding the handler ------------------------------------------------------------------------


def test_a_handler_may_be_a_function_or_a_method_by_module_path() -> None:
    assert find_handler(RECORD) is handlers.record
    assert find_handler("tests.support.handlers:Recorder.handle") is handlers.Recorder.handle


def test_a_handler_may_be_an_installed_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = [EntryPoint("audit", RECORD, handler_module.HANDLER_GROUP)]
    monkeypatch.setattr(handler_module, "entry_points", lambda group: installed)

    assert find_handler("audit") is handlers.record


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", "unknown handler 'nope': installed in syncer.handlers are none"),
        ("no.such.module:f", "handler no.such.module:f: cannot import no.such.module"),
        ("tests.support.handlers:nope", "tests.support.handlers has no 'nope'"),
        ("tests.support.handlers:NOT_A_FUNCTION", "is a int, not a function"),
    ],
)
def test_a_handler_that_cannot_be_found_fails_when_the_config_loads(
    name: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        sink(name)
